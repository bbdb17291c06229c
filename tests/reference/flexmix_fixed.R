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
# their names. Needs r-base-core r-cran-flexmix r-cran-mixtools r-cran-jsonlite.

suppressPackageStartupMessages({
  library(flexmix)
  library(jsonlite)
  library(mixtools)
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

# One common variance (equal_scale): mixtools::regmixEM(arbvar = FALSE), an ML fit, on the
# Gaussian data of make_reference_data.py, started from the per-label least-squares fit.
gauss <- read_data("gauss_mix")
start_beta <- sapply(1:2, function(j) coef(lm(y ~ x, data = gauss, subset = label == j)))
start_sigma <- sqrt(mean(sapply(1:2, function(j) {
  mean(residuals(lm(y ~ x, data = gauss, subset = label == j))^2)
})))
start_lambda <- as.numeric(table(gauss$label)) / nrow(gauss)
set.seed(1) # regmixEM only draws random numbers if it has to restart
invisible(capture.output(
  mt <- regmixEM(gauss$y, gauss$x, lambda = start_lambda, beta = start_beta,
                 sigma = start_sigma, k = 2, arbvar = FALSE, epsilon = 1e-10, maxit = 100000)
))
if (mt$restarts != 0) stop("regmixEM restarted from random values")
fits$gauss_equal_scale_mixtools <- list(
  dataset = "gauss_mix", K = 2L, nobs = nrow(gauss), logLik = mt$loglik,
  df = 2L * 2L + 1L + 1L, converged = TRUE, iterations = length(mt$all.loglik) - 1L,
  priors = unname(mt$lambda), sigma = unname(mt$sigma),
  coef = lapply(1:2, function(k) list(`(Intercept)` = mt$beta[1, k], x = mt$beta[2, k])))

# flexmix's own common-variance fit with a fixed term (its sigma is df-corrected, not ML):
# the tests evaluate emglm's llf at these parameters, which must equal flexmix's logLik.
d <- read_data("fixed_gauss")
f <- flexmix(y ~ x, data = d, k = 2, cluster = d$label,
             model = FLXMRglmfix(family = "gaussian", fixed = ~ z, varFix = TRUE),
             control = CONTROL)
fits$gauss_varfix_flexmix <- summarise(f, "fixed_gauss")
fits$gauss_varfix_flexmix$sigma <- as.numeric(parameters(f)["sigma", 1])

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
