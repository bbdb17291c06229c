# %% [markdown]
# # The models of flexmix's documentation
#
# R's flexmix writes more than K independent GLMs: observations grouped by subject,
# coefficients shared by all components, a point mass at zero, several responses that share
# one latent class. This vignette fits each on data simulated here, with the R call that
# fits the same model beside the emglm call. The tests (`tests/test_grouped.py`,
# `tests/test_fixed.py`, `tests/test_zero_inflated.py`, `tests/test_several.py`) check each
# model against flexmix's own numbers.

# %%
import numpy as np
import pandas as pd

import emglm
import emglm.plotting as ep

rng = np.random.default_rng(2024)

# %% [markdown]
# ## Grouped observations: `y ~ x | id`
#
# 150 subjects with 4 rows each; every subject belongs to one of two processes for all of
# its rows. flexmix writes the grouping after a `|`:
#
# ```r
# flexmix(y ~ x | id, data = d, k = 2, model = FLXMRglm(family = "poisson"))
# ```

# %%
n_groups, size = 150, 4
gid = np.repeat(np.arange(n_groups), size)
label = rng.integers(0, 2, n_groups)[gid]
x = rng.normal(size=gid.size)
y = rng.poisson(np.exp(np.where(label == 0, 1.0 + 0.5 * x, 1.6 - 0.5 * x)))
panel = pd.DataFrame({"y": y, "x": x, "id": gid, "label": label})

grouped = emglm.em_glm("y ~ x | id", panel, "poisson", K=2, random_state=1)
print(grouped.params.round(3))

# %% [markdown]
# All rows of a subject share one posterior. Ignoring the grouping fits the same two
# regressions row by row, and classifies far fewer rows correctly:

# %%
rows = emglm.em_glm("y ~ x", panel, "poisson", K=2, random_state=1, se=None)


def accuracy(res: emglm.EMGLMResults) -> float:
    agree = np.mean(res.classes.to_numpy() - 1 == panel.label.to_numpy())
    return float(max(agree, 1 - agree))


print(f"grouped:   {accuracy(grouped):.3f} of the rows in their true process")
print(f"row by row: {accuracy(rows):.3f}")

# %% [markdown]
# The grouped estimates with 95% intervals against the true coefficients (crosses):

# %%
truth = pd.DataFrame({"a": [1.0, 0.5], "b": [1.6, -0.5]}, index=["Intercept", "x"])
fig = ep.plot_coefficients(grouped, known=truth)

# %% [markdown]
# ## Coefficients shared across components: `FLXMRglmfix`
#
# Three Poisson regressions of `y` on `x` whose effect of a covariate `z` is the same in
# every component, and whose slope of `x1` is common to the first two:
#
# ```r
# flexmix(y ~ x, data = d, k = 3,
#         model = FLXMRglmfix(family = "poisson", fixed = ~ z,
#                             nested = list(k = c(2, 1), formula = c(~ x1, ~ 0))))
# ```
#
# emglm writes the same model with `fixed=` and `nested=`; each shared coefficient is one
# parameter (flexmix's df), and the summary shows the shared terms in their own tables.

# %%
n = 3000
lab = rng.choice(3, size=n, p=[0.4, 0.35, 0.25])
x, x1, z = rng.normal(size=(3, n))
intercept, slope = np.array([1.0, 2.0, 0.3]), np.array([0.5, -0.4, 0.1])
eta = intercept[lab] + slope[lab] * x + 0.4 * z + np.where(lab < 2, 0.3 * x1, 0.0)
shared = pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "x1": x1, "z": z})
fix = emglm.em_glm("y ~ x", shared, "poisson", K=3, fixed="~ z",
                   nested=[(2, "~ x1"), (1, "~ 0")], random_state=3)
print(f"k_params {fix.k_params} (free: 3 x 2 + z + x1 + 2 mixing)")
print(fix.params.round(3))

# %% [markdown]
# ## Several responses: `model = list(FLXMRglm(yn ~ .), FLXMRglm(yp ~ ., family = "poisson"))`
#
# A Gaussian and a count response measured on the same units, both depending on the same
# latent class:
#
# ```r
# flexmix(~ x, data = d, k = 2,
#         model = list(FLXMRglm(yn ~ .), FLXMRglm(yp ~ ., family = "poisson")))
# ```
#
# emglm takes a list of formulas and a list of families; every component has one GLM per
# response, and the summary one coefficient block per response and component.

# %%
n = 500
lab = rng.integers(0, 2, n)
x = rng.normal(size=n)
both = pd.DataFrame(
    {
        "yn": np.where(lab == 0, 1 + 2 * x, -1 + 0.5 * x) + rng.normal(0, 0.8, n),
        "yp": rng.poisson(np.exp(np.where(lab == 0, 0.5 + 0.3 * x, 1.5 - 0.2 * x))),
        "x": x,
    }
)
two = emglm.em_glm(["yn ~ x", "yp ~ x"], both, ["gaussian", "poisson"], K=2, random_state=1)
print(two.params.round(3))
print(two.predict().head(3).round(3))

# %% [markdown]
# Two responses tell the classes apart better than either alone: most posteriors sit at 0
# or 1.

# %%
fig = ep.plot_posterior(two)

# %% [markdown]
# ## Zero inflation: `FLXMRziglm(family = "poisson")`
#
# Counts from two Poisson regressions, with a quarter of the units never counting at all (a
# point mass at zero, Stata's `fmm: pointmass`). flexmix's `k` counts the point mass, so its
# `k = 3` is emglm's `K = 2` GLM components with `zero_inflated=True`:
#
# ```r
# flexmix(y ~ x, data = d, k = 3, model = FLXMRziglm(family = "poisson"))
# ```

# %%
n = 1000
lab = rng.choice(3, size=n, p=[0.25, 0.45, 0.30])
x = rng.normal(size=n)
counts = rng.poisson(np.exp(np.where(lab == 1, 1.0 + 0.5 * x, 2.2 - 0.4 * x)))
zi_data = pd.DataFrame({"y": np.where(lab == 0, 0, counts), "x": x})

zi = emglm.em_glm("y ~ x", zi_data, "poisson", K=2, zero_inflated=True, random_state=1)
print(zi.mixing.round(3))
print(zi.params.round(3))
print(f"k_params = {zi.k_params} (flexmix's df: 2 x 2 coefficients + 2 free priors)")

# %% [markdown]
# The point mass is component 1, `zero` (flexmix's component 1, whose intercept it reports
# as `-Inf`), and stays first whatever its share; it has no coefficients, so the summary has
# coefficient blocks for `comp2` and `comp3` only. A positive count never belongs to it, and
# the mixture mean counts it as a mean of 0:

# %%
post = zi.posterior
print(f"largest zero posterior of a positive count: {post['zero'][zi_data.y > 0].max():.1f}")
print(f"mean zero posterior of the zeros: {post['zero'][zi_data.y == 0].mean():.3f}")
print(zi.predict(which="component").head(3).round(3))
