# flexmix's own `patent` example (?patent): Patents ~ lgRD, K = 3, Poisson, concomitant
# FLXPmultinom(~ RDS). Its maximum has an RDS log-odds coefficient near 41 (comp1 against
# the others), so the log-odds reach about 133 at the firm with RDS 3.33: an interior
# maximum far beyond any bound on the fitted log-odds.
#
# Writes tests/reference/data/patent.csv (the data: Patents, RDS, lgRD) and
# tests/reference/flexmix_patent.json:
#   * runs: the example's call from set.seed(1..10), logLik of each;
#   * fit: the best of them (flexmix's EM result: logLik, coefficients, concomitant
#     coefficients, posterior matrix 70 x 3, iterations);
#   * mle: that fit polished by Newton steps on flexmix's analytic score (numDeriv
#     Jacobian) to a score of ~1e-10: logLik, coefficients, concomitant, priors;
#   * profile: the log-likelihood maximised over all other parameters with the most
#     negative RDS coefficient of the concomitant model (a component's log-odds against
#     flexmix's Comp.1) held at -51, -41, -31 (optim BFGS from the MLE): the maximum is
#     interior.
#
# Usage (from the repository root): Rscript tests/reference/flexmix_patent.R
# Needs r-base-core r-cran-flexmix r-cran-jsonlite r-cran-numderiv.

suppressPackageStartupMessages({
  library(flexmix)
  library(jsonlite)
  library(numDeriv)
})
script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f)) dirname(normalizePath(f)) else file.path(getwd(), "tests", "reference")
})
data("patent", package = "flexmix")
write.csv(patent[, c("Patents", "RDS", "lgRD")], file.path(script_dir, "data", "patent.csv"),
          row.names = FALSE)

example_fit <- function(seed) {
  set.seed(seed)
  flexmix(Patents ~ lgRD, k = 3, data = patent, model = FLXMRglm(family = "poisson"),
          concomitant = FLXPmultinom(~ RDS))
}
runs <- lapply(1:10, example_fit)
run_llf <- sapply(runs, function(f) as.numeric(logLik(f)))
fit <- runs[[which.max(run_llf)]]
stopifnot(fit@k == 3)

coef_list <- function(comp) {
  lapply(comp, function(cl) as.list(cl[[1]]@parameters$coef))
}
conc_matrix <- function(conc) {
  m <- conc@coef
  setNames(lapply(seq_len(nrow(m)), function(i) unname(m[i, ])), rownames(m))
}

# Newton on flexmix's analytic score, from the EM estimates.
loglik <- flexmix:::FLXlogLikfun(fit)
score <- flexmix:::FLXgradlogLikfun(fit)
theta <- FLXgetParameters(fit)
nm <- names(theta)
for (i in 1:50) {
  H <- jacobian(score, theta)
  delta <- solve((H + t(H)) / 2, score(theta))
  theta <- theta - delta
  if (max(abs(delta)) < 1e-10 * max(1, max(abs(theta)))) break
}
names(theta) <- nm
H <- jacobian(score, theta)
stopifnot(all(eigen(-(H + t(H)) / 2, symmetric = TRUE, only.values = TRUE)$values > 0))
obj <- flexmix:::FLXreplaceParameters(fit, theta)
pri <- flexmix:::getPriors(obj@concomitant, obj@group, rep(TRUE, nrow(patent)))

# Profile over the most negative RDS coefficient: hold it at each value.
conc_idx <- grep("RDS", nm)
j <- conc_idx[which.min(theta[conc_idx])]
profile_at <- function(value) {
  free <- setdiff(seq_along(theta), j)
  f <- function(v) {
    th <- theta
    th[free] <- v
    th[j] <- value
    -loglik(th)
  }
  opt <- optim(theta[free], f, method = "BFGS", control = list(maxit = 10000, reltol = 1e-14))
  -opt$value
}
profile_values <- c(-51, -41, -31)
profile <- sapply(profile_values, profile_at)

out <- list(
  flexmix = as.character(packageVersion("flexmix")),
  call = paste("flexmix(Patents ~ lgRD, k = 3, data = patent, model = FLXMRglm(family =",
               "'poisson'), concomitant = FLXPmultinom(~ RDS)) after set.seed(1..10)"),
  runs = list(seed = 1:10, logLik = run_llf),
  fit = list(seed = which.max(run_llf), logLik = as.numeric(logLik(fit)),
             iterations = fit@iter, coefficients = coef_list(fit@components),
             concomitant = conc_matrix(fit@concomitant),
             posterior = unname(lapply(seq_len(nrow(patent)),
                                       function(i) posterior(fit)[i, ]))),
  mle = list(logLik = loglik(theta), max_abs_score = max(abs(score(theta))),
             parameter_names = nm, coef = unname(theta),
             coefficients = coef_list(obj@components),
             concomitant = conc_matrix(obj@concomitant), priors = unname(colMeans(pri))),
  profile = list(parameter = nm[j], value = profile_values, logLik = profile)
)
print(str(out[c("runs", "mle", "profile")]))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(script_dir, "flexmix_patent.json"))
