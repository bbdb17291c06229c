# Reference fits of mixtures with coefficients shared across components (flexmix's
# FLXMRglmfix: fixed and nested coefficients) on the data written by make_fixed_data.py.
#
# Usage (from the repository root):
#   python tests/reference/make_fixed_data.py
#   Rscript tests/reference/flexmix_fixed.R
#
# Writes tests/reference/flexmix_fixed.json. Every fit starts from the true labels
# (cluster = label) with a tight tolerance, so fitted component k is true component k.
# Coefficients are stored by component as flexmix reports them (parameters(fit)), with
# their names. Needs r-base-core r-cran-flexmix r-cran-jsonlite.

suppressPackageStartupMessages({
  library(flexmix)
  library(jsonlite)
})

`%||%` <- function(a, b) if (is.null(a)) b else a

script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f)) dirname(normalizePath(f)) else file.path(getwd(), "tests", "reference")
})
read_data <- function(name) read.csv(file.path(script_dir, "data", paste0(name, ".csv")))
CONTROL <- list(tolerance = 1e-13, iter.max = 10000, minprior = 0)

summarise <- function(fit, dataset) {
  pars <- parameters(fit)
  # A matrix when every component has the same terms, else a list (nested groups).
  comp_coef <- function(k) {
    v <- if (is.list(pars)) pars[[k]] else pars[, k]
    as.list(setNames(as.numeric(v), sub("^coef\\.", "", names(v) %||% rownames(pars))))
  }
  list(
    dataset = dataset, K = fit@k, nobs = attr(logLik(fit), "nobs"),
    logLik = as.numeric(logLik(fit)), df = fit@df,
    iterations = fit@iter, converged = fit@converged,
    priors = as.numeric(prior(fit)),
    coef = lapply(seq_len(fit@k), comp_coef),
    clusters = as.integer(clusters(fit))
  )
}

fits <- list()

d <- read_data("fixed_pois")
f <- flexmix(y ~ x, data = d, k = 3, cluster = d$label,
             model = FLXMRglmfix(family = "poisson", fixed = ~ z), control = CONTROL)
fits$pois_fixed <- summarise(f, "fixed_pois")

f <- flexmix(y ~ x, data = d, k = 3, cluster = d$label,
             model = FLXMRglmfix(family = "poisson", fixed = ~ z,
                                 nested = list(k = c(2, 1), formula = c(~ x1, ~ 0))),
             control = CONTROL)
fits$pois_nested <- summarise(f, "fixed_pois")

d <- read_data("fixed_grouped_pois")
f <- flexmix(y ~ x | id, data = d, k = 2, cluster = d$label,
             model = FLXMRglmfix(family = "poisson", fixed = ~ z), control = CONTROL)
fits$grouped_pois_fixed <- summarise(f, "fixed_grouped_pois")

d <- read_data("fixed_binom")
f <- flexmix(cbind(succ, fail) ~ x, data = d, k = 2, cluster = d$label,
             model = FLXMRglmfix(family = "binomial", fixed = ~ z), control = CONTROL)
fits$binom_fixed <- summarise(f, "fixed_binom")

for (name in names(fits)) {
  r <- fits[[name]]
  stopifnot(r$converged)
  cat(sprintf("%-20s logLik %.6f df %d nobs %d iter %d\n",
              name, r$logLik, r$df, r$nobs, r$iterations))
}
versions <- list(R = R.version.string, flexmix = as.character(packageVersion("flexmix")))
writeLines(toJSON(list(versions = versions, fits = fits), auto_unbox = TRUE, digits = NA,
                  pretty = TRUE),
           file.path(script_dir, "flexmix_fixed.json"))
