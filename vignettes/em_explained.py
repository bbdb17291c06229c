# %% [markdown]
# # The EM algorithm by example
#
# EM fits a model with unobserved group labels by alternating two steps:
#
# - **E-step**: given the current parameters, compute for every observation the posterior
#   probability of each label (or, in general, the expected complete-data statistics);
# - **M-step**: maximise the complete-data likelihood with the labels replaced by those
#   expectations, which for a mixture of GLMs means one weighted GLM fit per component and a
#   weighted mean for the mixing proportions.
#
# Each round never lowers the observed-data log-likelihood. The examples below start from
# the smallest one, written out in NumPy, and then let `emglm` do the same for regression
# mixtures.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

import emglm
import emglm.plotting as ep
from emglm.datasets import (
    peppered_moth,
    simulate_gaussian_mixture_1d,
    simulate_two_regressions,
    simulate_two_slopes,
)

# %% [markdown]
# ## 1. Peppered moth allele frequencies
#
# The colour of the peppered moth is set by one gene with three alleles, C (carbonaria)
# dominant over I (insularia) dominant over T (typica). Only the phenotype is seen:
# carbonaria moths are CC, CI or CT, insularia moths II or IT, typica moths TT. Under
# Hardy-Weinberg equilibrium a genotype's frequency is `p_C^2`, `2 p_C p_I`, and so on. The
# genotype counts are the missing data (Givens and Hoeting, *Computational Statistics*,
# ch. 4).
#
# E-step: split each phenotype count over its genotypes in proportion to their current
# frequencies. M-step: count alleles in the expected genotype counts.

# %%
moths = peppered_moth()
print(moths)
n_c, n_i, n_t = moths["count"].to_numpy()
n = n_c + n_i + n_t

p = np.array([1 / 3, 1 / 3, 1 / 3])  # p_C, p_I, p_T
for step in range(1, 100):
    p_c, p_i, p_t = p
    # E-step: expected genotype counts
    carb = n_c / (p_c**2 + 2 * p_c * p_i + 2 * p_c * p_t)
    n_cc, n_ci, n_ct = carb * p_c**2, carb * 2 * p_c * p_i, carb * 2 * p_c * p_t
    insu = n_i / (p_i**2 + 2 * p_i * p_t)
    n_ii, n_it = insu * p_i**2, insu * 2 * p_i * p_t
    # M-step: allele frequencies among the 2n alleles
    new = np.array([2 * n_cc + n_ci + n_ct, 2 * n_ii + n_it + n_ci, 2 * n_t + n_ct + n_it]) / (
        2 * n
    )
    change, p = np.max(np.abs(new - p)), new
    print(f"step {step}: p_C {p[0]:.6f}  p_I {p[1]:.6f}  p_T {p[2]:.6f}  change {change:.1e}")
    if change < 1e-6:
        break

# %% [markdown]
# Nine steps. This model also has a closed-form maximum likelihood estimate to check
# against: typica moths are exactly the TT genotype, so `p_T^2 = n_T / n`, and
# typica-or-insularia moths are exactly those without a C allele, so
# `(p_I + p_T)^2 = (n_I + n_T) / n`.

# %%
p_t_exact = np.sqrt(n_t / n)
p_i_exact = np.sqrt((n_i + n_t) / n) - p_t_exact
exact = np.array([1 - p_i_exact - p_t_exact, p_i_exact, p_t_exact])
print("closed form:", exact.round(6))
print(f"largest difference from EM: {np.max(np.abs(p - exact)):.1e}")

# %% [markdown]
# ## 2. Two regression lines through the origin: hard and soft EM
#
# A classic blog example (John Myles White, "EM and regression mixture modeling"): 100
# points at x = 1..50 (twice), each on the line `y = 0.3 x` or `y = 1.0 x` with standard
# normal noise, no intercept. Soft EM (`method="em"`) weights every point by its posterior
# probability; hard or classification EM (`method="cem"`) assigns every point to its most
# probable line and refits each line by least squares on its points.

# %%
lines = simulate_two_slopes(1)
fits = {
    method: emglm.em_glm("y ~ x - 1", lines, "gaussian", K=2, method=method, random_state=1)
    for method in ("em", "cem")
}
rows = []
for method, fit in fits.items():
    order = np.argsort(fit.params.loc["x"].to_numpy())  # component with the smaller slope first
    labels = np.argsort(order)[fit.classes.to_numpy() - 1]  # 0: slope 0.3, 1: slope 1.0
    rows.append(
        {
            "method": method,
            "slope 0.3": fit.params.loc["x"].iloc[order[0]],
            "slope 1.0": fit.params.loc["x"].iloc[order[1]],
            "sigma 0.3": fit.sigma.iloc[order[0]],
            "sigma 1.0": fit.sigma.iloc[order[1]],
            "share 1.0": fit.mixing.iloc[order[1]],
            "accuracy": np.mean(labels == lines["label"].to_numpy()),
            "llf": fit.llf,
        }
    )
print(pd.DataFrame(rows).set_index("method").round(4))
print(f"share of points on the slope-1.0 line: {lines['label'].mean():.2f}")

# %% [markdown]
# Both recover the slopes and classify 98% of the points correctly. CEM's sigmas and
# proportions come from the hard classes, and its log-likelihood (evaluated as a mixture,
# like EM's) is a little lower: CEM maximises the classification likelihood, not the
# mixture likelihood.
#
# Both fits above start from the best of ten short runs, so their long runs have little
# left to do. Started once from random posteriors (`n_starts=1`), EM shows its typical
# path: a slow start while the two lines separate from the random start, a fast climb, then
# a flat tail to convergence. The log-likelihood never decreases.

# %%
single = emglm.em_glm("y ~ x - 1", lines, "gaussian", K=2, n_starts=1, random_state=1)
print(f"single start: llf {single.llf:.4f} after {single.n_iter} iterations")
print(f"never decreases: {bool(np.all(np.diff(single.llf_history) >= -1e-9))}")
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
ep.plot_fitted(fits["em"], "x", ax=axes[0])
axes[0].set_title("soft EM")
ep.plot_llf(single, ax=axes[1])

# %% [markdown]
# ## 3. Two Gaussian regressions with their own intercepts, slopes and sigmas
#
# The two-line example from a Cross Validated question: x uniform on (0, 10), half the
# points on `y = 10 + 3x` with sd 2, the other half on `y = 3 - x` with sd 0.25. Each
# component has its own variance, estimated in the M-step from its weighted residuals.

# %%
two = simulate_two_regressions(11)
fit2 = emglm.em_glm("y ~ x", two, "gaussian", K=2, random_state=0)
print(fit2.summary())
truth = pd.DataFrame(
    {"A": [10.0, 3.0, 2.0], "B": [3.0, -1.0, 0.25]}, index=["Intercept", "x", "sigma"]
)
estimates = pd.concat([fit2.params, fit2.sigma.to_frame().T]).set_axis(truth.index)
known = ep.align_known(estimates, truth)
print(pd.concat({"estimate": estimates, "known": known}, axis=1).round(3))
fig = ep.plot_fitted(fit2, "x")

# %% [markdown]
# ## 4. A Gaussian mixture is an intercept-only model
#
# With no covariates, `y ~ 1`, each component is just a mean and a variance: a mixture of
# GLMs is then a one-dimensional Gaussian mixture, and the posterior classes are a
# clustering. Here: 400 points from four Gaussians with means -6, -2, 2, 6, sd 0.8, equal
# weights.

# %%
blobs = simulate_gaussian_mixture_1d(1)
gm = emglm.em_glm("y ~ 1", blobs, "gaussian", K=4, random_state=1)
order = np.argsort(gm.params.loc["Intercept"].to_numpy())
clusters = pd.DataFrame(
    {
        "mean": gm.params.loc["Intercept"].iloc[order],
        "sd": gm.sigma.iloc[order],
        "weight": gm.mixing.iloc[order],
    }
)
print(clusters.round(3))
print(pd.crosstab(pd.Series(blobs["label"], name="true"), gm.classes))

# %%
grid = np.linspace(-10, 10, 400)
fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
ax.hist(blobs["y"], bins=40, density=True, color="0.8", label="data")
for k, comp in enumerate(gm.component_names):
    dens = gm.mixing[comp] * stats.norm.pdf(grid, gm.params.loc["Intercept", comp], gm.sigma[comp])
    ax.plot(grid, dens, color=f"C{k}", label=comp)
mix = sum(
    gm.mixing[c] * stats.norm.pdf(grid, gm.params.loc["Intercept", c], gm.sigma[c])
    for c in gm.component_names
)
ax.plot(grid, mix, "k--", label="mixture")
ax.set_xlabel("y")
ax.legend(fontsize="small")
