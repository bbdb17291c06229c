# Reference fits of grouped finite GLM mixtures (flexmix's y ~ x | g) on the data written by
# make_grouped_data.py.
#
# Usage (from the repository root):
#   python tests/reference/make_grouped_data.py
#   Rscript tests/reference/flexmix_grouped.R
#
# Writes tests/reference/flexmix_grouped.json. Every fit starts from the true labels
# (cluster = label, constant within a subject) with a tight tolerance, so fitted component
# k is true component k. Needs r-base-core r-cran-flexmix r-cran-jsonlite.

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
    K = fit@k, nobs = attr(logLik(fit), "nobs"), n_groups = length(unique(fit@group)),
    logLik = as.numeric(logLik(fit)), df = fit@df,
    AIC = AIC(fit), BIC = BIC(fit), ICL = ICL(fit),
    iterations = fit@iter, converged = fit@converged,
    priors = as.numeric(prior(fit)),
    coef = lapply(seq_len(fit@k), function(k) as.numeric(pars[, k])),
    coef_names = rownames(pars),
    clusters = as.integer(clusters(fit))
  )
  if (!is.null(concomitant)) {
    out$concomitant_coef <- unname(as.matrix(parameters(fit, which = "concomitant")))
  }
  out
}

fits <- list()

d <- read_data("grouped_pois")
f <- flexmix(y ~ x | id, data = d, k = 2, cluster = d$label,
             model = FLXMRglm(family = "poisson"), control = CONTROL)
fits$grouped_pois <- summarise(f, "grouped_pois", "y ~ x | id", "poisson")

f <- flexmix(y ~ x | id, data = d, k = 2, cluster = d$label,
             model = FLXMRglm(family = "poisson"), concomitant = FLXPmultinom(~ z),
             control = CONTROL)
fits$grouped_pois_conc <- summarise(f, "grouped_pois", "y ~ x | id", "poisson", "~ z")

d <- read_data("grouped_binom")
f <- flexmix(cbind(succ, fail) ~ x | id, data = d, k = 2, cluster = d$label,
             model = FLXMRglm(family = "binomial"), control = CONTROL)
fits$grouped_binom <- summarise(f, "grouped_binom", "cbind(succ, fail) ~ x | id", "binomial")

for (name in names(fits)) {
  r <- fits[[name]]
  stopifnot(r$converged)
  cat(sprintf("%-18s logLik %.6f df %d nobs %d groups %d iter %d\n",
              name, r$logLik, r$df, r$nobs, r$n_groups, r$iterations))
}
versions <- list(R = R.version.string, flexmix = as.character(packageVersion("flexmix")))
writeLines(toJSON(list(versions = versions, fits = fits), auto_unbox = TRUE, digits = NA,
                  pretty = TRUE),
           file.path(script_dir, "flexmix_grouped.json"))
