# Reference fits of zero-inflated GLM mixtures (flexmix's FLXMRziglm: a point mass at zero,
# flexmix's component 1, beside the GLM components) on the data written by
# make_zero_inflated_data.py.
#
# Usage (from the repository root):
#   python tests/reference/make_zero_inflated_data.py
#   Rscript tests/reference/flexmix_zero_inflated.R
#
# Writes tests/reference/flexmix_zero_inflated.json. Every fit starts from the true labels
# (cluster = label; label 1 is the point mass) with a tight tolerance, so fitted component k
# is true component k. flexmix's k counts the point mass: k = 3 is emglm's K = 2 with
# zero_inflated = TRUE. Needs r-base-core r-cran-flexmix r-cran-jsonlite.

suppressPackageStartupMessages({
  library(flexmix)
  library(jsonlite)
})

script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f)) dirname(normalizePath(f)) else file.path(getwd(), "tests", "reference")
})
read_data <- function(name) read.csv(file.path(script_dir, "data", paste0(name, ".csv")))
CONTROL <- list(tolerance = 1e-13, iter.max = 10000, minprior = 0)

summarise <- function(fit, dataset, formula, family, concomitant = NULL) {
  pars <- parameters(fit)
  out <- list(
    dataset = dataset, formula = formula, family = family,
    concomitant_formula = concomitant,
    K = fit@k, nobs = attr(logLik(fit), "nobs"),
    logLik = as.numeric(logLik(fit)), df = fit@df,
    AIC = AIC(fit), BIC = BIC(fit), ICL = ICL(fit),
    iterations = fit@iter, converged = fit@converged,
    priors = as.numeric(prior(fit)),
    # component 1 is the point mass (intercept -Inf): only the GLM components' coefficients
    coef = lapply(2:fit@k, function(k) as.numeric(pars[, k])),
    coef_names = rownames(pars),
    clusters = as.integer(clusters(fit))
  )
  if (!is.null(concomitant)) {
    out$concomitant_coef <- unname(as.matrix(parameters(fit, which = "concomitant")))
  }
  out
}

fits <- list()

# The exposure t enters as flexmix's offset argument (an offset() term in the formula
# would be ignored by FLXMRglm).
d <- read_data("zi_pois")
f <- flexmix(y ~ x, data = d, k = 3, cluster = d$label,
             model = FLXMRziglm(family = "poisson", offset = log(d$t)), control = CONTROL)
fits$zi_pois <- summarise(f, "zi_pois", "y ~ x, exposure t", "poisson")

f <- flexmix(y ~ x, data = d, k = 3, cluster = d$label,
             model = FLXMRziglm(family = "poisson", offset = log(d$t)), concomitant = FLXPmultinom(~ x),
             control = CONTROL)
fits$zi_pois_conc <- summarise(f, "zi_pois", "y ~ x, exposure t", "poisson", "~ x")

d <- read_data("zi_binom")
f <- flexmix(cbind(succ, fail) ~ x, data = d, k = 2, cluster = d$label,
             model = FLXMRziglm(family = "binomial"), control = CONTROL)
fits$zi_binom <- summarise(f, "zi_binom", "cbind(succ, fail) ~ x", "binomial")

d <- read_data("zi_grouped_pois")
f <- flexmix(y ~ x | id, data = d, k = 3, cluster = d$label,
             model = FLXMRziglm(family = "poisson"), control = CONTROL)
fits$zi_grouped_pois <- summarise(f, "zi_grouped_pois", "y ~ x | id", "poisson")

f <- flexmix(y ~ x | id, data = d, k = 3, cluster = d$label,
             model = FLXMRziglm(family = "poisson"), concomitant = FLXPmultinom(~ z),
             control = CONTROL)
fits$zi_grouped_pois_conc <- summarise(f, "zi_grouped_pois", "y ~ x | id", "poisson", "~ z")

for (name in names(fits)) {
  r <- fits[[name]]
  stopifnot(r$converged)
  cat(sprintf("%-18s logLik %.6f df %d nobs %d iter %d priors %s\n",
              name, r$logLik, r$df, r$nobs, r$iterations,
              paste(round(r$priors, 4), collapse = " ")))
}
versions <- list(R = R.version.string, flexmix = as.character(packageVersion("flexmix")))
writeLines(toJSON(list(versions = versions, fits = fits), auto_unbox = TRUE, digits = NA,
                  pretty = TRUE),
           file.path(script_dir, "flexmix_zero_inflated.json"))
