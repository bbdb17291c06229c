# %% [markdown]
# # Counts with an exposure: sim3
#
# `sim3` follows emax.glm's `sim.3`: 10000 counts, ten standard-normal covariates, no
# intercept, two Poisson processes (rows 1-5000 and 5001-10000), and an integer exposure
# between 10 and 30 per row. Each count is `Poisson(exposure * exp(x'b))`: the exposure
# multiplies the rate, so `log(exposure)` enters the linear predictor with coefficient 1 (an
# offset).

# %%
import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf

import emglm
import emglm.plotting as ep
from emglm.datasets import load_sim3, true_params

d3 = load_sim3()
covariates = [f"X{j}" for j in range(1, 11)]
formula = "y ~ " + " + ".join(covariates) + " - 1"
print(formula)
print(d3.shape)
print(d3[["X1", "X2", "y", "exposure"]].describe().round(2))

# %% [markdown]
# ## A single Poisson GLM with exposure
#
# statsmodels takes the exposure as `exposure=` (its log becomes the offset). As with `sim2`,
# one regression leaves the counts heavily over-dispersed.

# %%
glm = smf.glm(formula, data=d3, family=sm.families.Poisson(), exposure=d3["exposure"]).fit()
print(f"log-likelihood {glm.llf:.4f}, BIC {glm.bic_llf:.2f}")
print(f"Pearson chi2 / df_resid = {glm.pearson_chi2 / glm.df_resid:.2f}")

# %% [markdown]
# ## Two components with exposure
#
# `em_glm` takes the exposure the same way, as a column name or an array. Writing the offset
# into the formula, `offset(np.log(exposure))`, is the same model.

# %%
res = emglm.em_glm(formula, d3, "poisson", K=2, exposure="exposure", random_state=1)
print(res.summary())

# %%
same = emglm.em_glm(
    formula + " + offset(np.log(exposure))", d3, "poisson", K=2, start=res.params, se=None
)
print(f"exposure='exposure': llf {res.llf:.6f}")
print(f"offset(np.log(exposure)) in the formula: llf {same.llf:.6f}")
# Equal up to rounding (the last digits depend on the BLAS, so print the bound).
gap = np.max(np.abs(same.params - res.params).to_numpy())
print(f"largest coefficient difference below 1e-12: {gap < 1e-12}")

# %% [markdown]
# The estimates against the true coefficients of `sim3` (`p1` for rows 1-5000, `p2` for
# the rest), with 95% intervals:

# %%
truth = true_params("sim3").set_axis(["p1", "p2"], axis=1)
known = ep.align_known(res.params, truth)
pairs = dict(zip(res.params.columns, known.attrs["source"], strict=True))
print("fitted component <- true parameter set:", pairs)
print(f"largest |estimate - known|: {np.max(np.abs(res.params - known).to_numpy()):.4f}")
fig = ep.plot_coefficients(res, known=truth)

# %% [markdown]
# The information criteria, and the dispersion check of the mixture:

# %%
criteria = pd.DataFrame(
    {
        "llf": [glm.llf, res.llf],
        "k_params": [int(glm.df_model) + 1, res.k_params],
        "AIC": [glm.aic, res.aic],
        "BIC": [glm.bic_llf, res.bic],
    },
    index=["Poisson GLM with exposure", "EM mixture, K=2"],
)
print(criteria.to_string(float_format=lambda v: f"{v:.2f}"))
print(res.dispersion_test())

# %% [markdown]
# ## Predictions
#
# Predictions re-apply the model to new rows; the exposure comes from the new rows' own
# `exposure` column. The same covariates with three times the exposure give three times the
# expected count in every component (and so in the mixture).

# %%
new = d3.loc[:2, covariates]
for e in (10, 30):
    print(f"exposure {e}:")
    print(res.predict(new.assign(exposure=e), which="component").round(3))

# %% [markdown]
# Observed counts against `X2`, the covariate whose coefficient differs most between the
# components (about +1.47 and -1.35), coloured by the most probable component, with each
# component's fitted means; the means also move with the other nine covariates and with
# the exposure, so they are drawn as dots.

# %%
fig = ep.plot_fitted(res, "X2")
fig.axes[0].set_yscale("symlog")
