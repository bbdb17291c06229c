# Reference fit of two responses sharing one latent class (flexmix's model = list(...)) on
# the data written by make_several_data.py, started from the true labels.
#
# Usage (from the repository root):
#   python tests/reference/make_several_data.py
#   Rscript tests/reference/flexmix_several.R
#
# Writes tests/reference/flexmix_several.json. Needs r-base-core r-cran-flexmix
# r-cran-jsonlite.

suppressPackageStartupMessages({
  library(flexmix)
  library(jsonlite)
})
script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f)) dirname(normalizePath(f)) else file.path(getwd(), "tests", "reference")
})
d <- read.csv(file.path(script_dir, "data", "several.csv"))
fit <- flexmix(~ x, data = d, k = 2, cluster = d$label,
               model = list(FLXMRglm(yp ~ ., family = "poisson"),
                            FLXMRglm(cbind(succ, fail) ~ ., family = "binomial")),
               control = list(tolerance = 1e-13, iter.max = 10000, minprior = 0))
stopifnot(fit@converged)
out <- list(
  flexmix = as.character(packageVersion("flexmix")),
  logLik = as.numeric(logLik(fit)), df = fit@df, BIC = BIC(fit), ICL = ICL(fit),
  nobs = attr(logLik(fit), "nobs"), priors = as.numeric(prior(fit)),
  coef_poisson = lapply(1:2, function(k) as.numeric(parameters(fit, model = 1)[, k])),
  coef_binomial = lapply(1:2, function(k) as.numeric(parameters(fit, model = 2)[, k])),
  clusters = as.integer(clusters(fit))
)
cat(sprintf("logLik %.6f df %d iter %d\n", out$logLik, out$df, fit@iter))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(script_dir, "flexmix_several.json"))
