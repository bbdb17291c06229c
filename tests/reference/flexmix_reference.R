# Reference fits of finite GLM mixtures with R's flexmix (and mixtools for the
# Gaussian case), on the simulated data written by make_reference_data.py.
#
# Usage (from the repository root):
#   python tests/reference/make_reference_data.py
#   Rscript tests/reference/flexmix_reference.R
#
# Writes tests/reference/flexmix_reference.json and prints sanity checks.
# Needs the Debian packages r-base-core r-cran-flexmix r-cran-mixtools
# r-cran-jsonlite r-cran-numderiv.
#
# Every EM fit is started from the true component labels (cluster = label), so
# fitted component k corresponds to true label k (this is checked and recorded).
#
# For every fit the JSON holds three views of the same model:
#   * the EM result as flexmix reports it (logLik, df, AIC, BIC, iterations,
#     priors, coefficients, sigma, concomitant coefficients);
#   * "refit": the estimates and standard errors of flexmix's refit(fit)
#     (method "optim": a BFGS re-maximisation of the observed log-likelihood
#     started at the EM estimates, with the Hessian from optim);
#   * "mle": the maximum-likelihood estimate polished by Newton steps on
#     flexmix's own analytic score (FLXgradlogLikfun), with the observed
#     information from a Richardson-extrapolated Jacobian of that score
#     (numDeriv::jacobian).  This is the tightest reference: its score is ~0.
# All three use flexmix's unconstrained parametrisation: per component the GLM
# coefficients followed (Gaussian only) by log(sigma); then the concomitant
# part, which is alpha_k = log(pi_k / pi_1), k >= 2, for constant priors, or
# the multinomial-logit coefficients of components 2..K (component 1 is the
# baseline, fixed at zero) for FLXPmultinom.

suppressPackageStartupMessages({
  library(flexmix)
  library(mixtools)
  library(jsonlite)
  library(numDeriv)
})

script_dir <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f)) dirname(normalizePath(f)) else file.path(getwd(), "tests", "reference")
})
data_dir <- file.path(script_dir, "data")
out_file <- file.path(script_dir, "flexmix_reference.json")

read_data <- function(name) read.csv(file.path(data_dir, paste0(name, ".csv")))

CONTROL <- list(tolerance = 1e-12, iter.max = 10000, minprior = 0)
MIXTOOLS_EPSILON <- 1e-10

checks <- list()
record_check <- function(name, value, tol) {
  value <- as.numeric(value)
  ok <- is.finite(value) && value <= tol
  cat(sprintf("  [%s] %-58s %.3e (tol %.0e)\n", if (ok) " ok " else "FAIL", name, value, tol))
  checks[[name]] <<- list(value = value, tolerance = tol, ok = ok)
  invisible(ok)
}

# --------------------------------------------------------------------------
# Gaussian FLXMRglm with the maximum-likelihood sigma in the M-step.
#
# flexmix's own FLXMRglm(family = "gaussian") M-step sets
#   sigma = sqrt(sum(w * r^2) / mean(w) / (nrow(x) - rank)),
# i.e. sigma^2 = [sum(w r^2) / sum(w)] * n / (n - p) with n the *total* number
# of observations, which is not the ML estimate.  This driver keeps everything
# else (class, defineComponent, score, refit) and only replaces the fit
# function with the weighted ML estimate sigma_k^2 = sum(w r^2) / sum(w).
# --------------------------------------------------------------------------
FLXMRglm_mlsigma <- function(formula = . ~ ., offset = NULL) {
  z <- FLXMRglm(formula = formula, family = "gaussian", offset = offset)
  define <- z@defineComponent
  z@fit <- function(x, y, w, component) {
    fit <- lm.wfit(x, y, w = w, offset = offset)
    beta <- coef(fit)
    eta <- drop(x %*% beta)
    if (!is.null(offset)) eta <- eta + offset
    r <- drop(y) - eta
    define(para = list(coef = beta, df = ncol(x) + 1,
                       sigma = sqrt(sum(w * r^2) / sum(w))))
  }
  z@name <- "FLXMRglm:gaussian (ML sigma)"
  z
}

# --------------------------------------------------------------------------
# Extraction helpers
# --------------------------------------------------------------------------
named_list <- function(v) as.list(v)

component_params <- function(components, gaussian) {
  coefs <- lapply(components, function(cmp) named_list(cmp[[1]]@parameters$coef))
  out <- list(coefficients = unname(coefs))
  if (gaussian) out$sigma <- unname(sapply(components, function(cmp) cmp[[1]]@parameters$sigma))
  out
}

concomitant_matrix <- function(conc) {
  # q x K matrix as parameters(fit, which = "concomitant"): term -> K-vector
  if (!is(conc, "FLXPmultinom")) return(NULL)
  m <- conc@coef
  setNames(lapply(seq_len(nrow(m)), function(i) unname(m[i, ])), rownames(m))
}

label_matching <- function(post, label) {
  K <- ncol(post)
  L <- max(label)
  onehot <- sapply(seq_len(L), function(j) as.numeric(label == j))
  mass <- t(post) %*% onehot # fitted component x true label
  label_to_comp <- apply(mass, 2, which.max)
  comp_to_label <- rep(NA_integer_, K)
  if (!anyDuplicated(label_to_comp)) comp_to_label[label_to_comp] <- seq_len(L)
  list(component_to_label = comp_to_label,
       label_posterior_mass = unname(mass))
}

coefmat_to_list <- function(cm) {
  cm <- as(cm, "matrix")
  # keep the row names also for one-row tables (constant priors: row "prior")
  list(estimate = setNames(as.list(cm[, "Estimate"]), rownames(cm)),
       std_error = setNames(as.list(cm[, "Std. Error"]), rownames(cm)))
}

refit_summary <- function(fit) {
  r <- refit(fit)
  se <- sqrt(diag(r@vcov))
  out <- list(
    parameter_names = names(r@coef),
    coef = unname(r@coef),
    se = unname(se),
    components = unname(lapply(r@components[[1]], coefmat_to_list))
  )
  if (!is.null(r@concomitant))
    out$concomitant <- lapply(r@concomitant, coefmat_to_list)
  out
}

polish_mle <- function(fit, max_steps = 25) {
  loglik <- flexmix:::FLXlogLikfun(fit)
  score <- flexmix:::FLXgradlogLikfun(fit)
  theta <- FLXgetParameters(fit)
  nm <- names(theta)
  steps <- 0
  for (i in seq_len(max_steps)) {
    H <- jacobian(score, theta)
    H <- (H + t(H)) / 2
    delta <- solve(H, score(theta))
    theta <- theta - delta
    steps <- i
    if (max(abs(delta)) < 1e-11 * max(1, max(abs(theta)))) break
  }
  names(theta) <- nm
  H <- jacobian(score, theta)
  H <- (H + t(H)) / 2
  vcov <- solve(-H)
  if (any(eigen(-H, symmetric = TRUE, only.values = TRUE)$values <= 0))
    stop("polished point is not a local maximum")
  obj <- flexmix:::FLXreplaceParameters(fit, theta)
  gaussian <- isTRUE(fit@model[[1]]@family == "gaussian")
  out <- list(
    parameter_names = nm,
    coef = unname(theta),
    se = unname(sqrt(diag(vcov))),
    logLik = loglik(theta),
    max_abs_score = max(abs(score(theta))),
    max_abs_score_at_em = max(abs(score(FLXgetParameters(fit)))),
    newton_steps = steps
  )
  if (is(obj@concomitant, "FLXPmultinom")) {
    pri <- flexmix:::getPriors(obj@concomitant, obj@group, rep(TRUE, nrow(fit@posterior$scaled)))
    out$priors <- unname(if (is.null(fit@weights)) colMeans(pri)
                         else colSums(pri * fit@weights) / sum(fit@weights))
    out$concomitant <- concomitant_matrix(obj@concomitant)
  } else {
    out$priors <- unname(as.vector(obj@concomitant@coef))
  }
  out <- c(out, component_params(obj@components, gaussian))
  if (gaussian) {
    idx <- grep("log\\(sigma\\)$", nm)
    out$sigma_se_delta <- out$sigma * out$se[idx]
  }
  if (!is(obj@concomitant, "FLXPmultinom") && fit@k == 2) {
    # pi_2 = exp(alpha) / (1 + exp(alpha)): d pi_2 / d alpha = pi_1 pi_2
    a <- grep("alpha$", nm)
    out$prior_se_delta <- rep(prod(out$priors) * out$se[a], 2)
  }
  out
}

summarise_flexmix <- function(fit, label, info) {
  gaussian <- isTRUE(fit@model[[1]]@family == "gaussian")
  ll <- logLik(fit)
  out <- c(info, list(
    nobs = attr(ll, "nobs"),
    logLik = as.numeric(ll),
    df = attr(ll, "df"),
    AIC = AIC(fit),
    BIC = BIC(fit),
    iterations = fit@iter,
    converged = fit@converged,
    priors = unname(fit@prior)
  ))
  out <- c(out, component_params(fit@components, gaussian))
  out$concomitant <- concomitant_matrix(fit@concomitant)
  out <- c(out, label_matching(fit@posterior$scaled, label))
  out$refit <- refit_summary(fit)
  out$mle <- polish_mle(fit)
  out
}

fit_flexmix <- function(formula, data, model, concomitant = NULL, weights = NULL) {
  flexmix(formula, data = data, cluster = data$label, model = model,
          concomitant = concomitant, weights = weights, control = CONTROL)
}

max_abs_diff <- function(a, b) max(abs(unlist(a) - unlist(b)))

fits <- list()

# --------------------------------------------------------------------------
# (a), (b) Poisson with offset log(expo), K = 2; (b) with case weights w
# --------------------------------------------------------------------------
cat("pois_mix\n")
pois <- read_data("pois_mix")
pois_model <- function(d) FLXMRglm(family = "poisson", offset = log(d$expo))

# flexmix ignores an offset() term in the formula (FLXgetModelmatrix only
# builds model.matrix); the offset must be passed to FLXMRglm(offset = ).
g1 <- glm(y ~ x1 + x2, family = poisson, data = pois, offset = log(expo))
k1 <- flexmix(y ~ x1 + x2, data = pois, k = 1, model = pois_model(pois), control = CONTROL)
k1f <- flexmix(y ~ x1 + x2 + offset(log(expo)), data = pois, k = 1,
               model = FLXMRglm(family = "poisson"), control = CONTROL)
record_check("pois K=1 offset=: coef vs glm(offset)", max_abs_diff(parameters(k1), coef(g1)), 1e-6)
record_check("pois K=1 offset=: logLik vs glm(offset)", abs(logLik(k1) - logLik(g1)), 1e-8)
checks[["pois K=1 formula offset() term: logLik minus glm(offset) logLik"]] <-
  list(value = as.numeric(logLik(k1f) - logLik(g1)),
       note = "an offset() term in the flexmix formula is silently ignored")
cat(sprintf("  [info] formula offset() term ignored by flexmix: logLik %.4f vs %.4f with offset=\n",
            as.numeric(logLik(k1f)), as.numeric(logLik(g1))))

gw1 <- glm(y ~ x1 + x2, family = poisson, data = pois, offset = log(expo), weights = w)
kw1 <- flexmix(y ~ x1 + x2, data = pois, k = 1, model = pois_model(pois),
               weights = pois$w, control = CONTROL)
record_check("pois K=1 weights: coef vs glm(weights)", max_abs_diff(parameters(kw1), coef(gw1)), 1e-6)
record_check("pois K=1 weights: logLik vs glm(weights)", abs(logLik(kw1) - logLik(gw1)), 1e-8)

fit_a <- fit_flexmix(y ~ x1 + x2, pois, pois_model(pois))
fits$pois_offset <- summarise_flexmix(fit_a, pois$label, list(
  dataset = "pois_mix.csv", formula = "y ~ x1 + x2", offset = "log(expo)",
  weights = NULL, family = "poisson", K = 2L, concomitant_formula = NULL,
  driver = "flexmix::FLXMRglm(family = \"poisson\", offset = log(expo))"))

fit_b <- fit_flexmix(y ~ x1 + x2, pois, pois_model(pois), weights = pois$w)
fits$pois_offset_weights <- summarise_flexmix(fit_b, pois$label, list(
  dataset = "pois_mix.csv", formula = "y ~ x1 + x2", offset = "log(expo)",
  weights = "w", family = "poisson", K = 2L, concomitant_formula = NULL,
  driver = "flexmix::FLXMRglm(family = \"poisson\", offset = log(expo)), weights = w"))

# case weights must be equivalent to duplicating rows
dup <- pois[rep(seq_len(nrow(pois)), pois$w), ]
rownames(dup) <- NULL
fit_dup <- fit_flexmix(y ~ x1 + x2, dup, pois_model(dup))
record_check("pois K=2 weights vs duplicated rows: logLik",
             abs(logLik(fit_b) - logLik(fit_dup)), 1e-6)
record_check("pois K=2 weights vs duplicated rows: coefficients",
             max_abs_diff(parameters(fit_b), parameters(fit_dup)), 1e-6)
record_check("pois K=2 weights vs duplicated rows: priors",
             max_abs_diff(fit_b@prior, fit_dup@prior), 1e-8)
record_check("pois K=2 weights vs duplicated rows: BIC",
             abs(BIC(fit_b) - BIC(fit_dup)), 1e-6)
mle_dup <- polish_mle(fit_dup)
record_check("pois K=2 weights vs duplicated rows: mle coef",
             max_abs_diff(fits$pois_offset_weights$mle$coef, mle_dup$coef), 1e-8)
record_check("pois K=2 weights vs duplicated rows: mle SE",
             max_abs_diff(fits$pois_offset_weights$mle$se, mle_dup$se), 1e-8)

# --------------------------------------------------------------------------
# (c) Gaussian K = 2: ML-sigma flexmix driver, mixtools::regmixEM, plain flexmix
# --------------------------------------------------------------------------
cat("gauss_mix\n")
gauss <- read_data("gauss_mix")

lm1 <- lm(y ~ x, data = gauss)
gk1 <- flexmix(y ~ x, data = gauss, k = 1, model = FLXMRglm(family = "gaussian"), control = CONTROL)
gk1ml <- flexmix(y ~ x, data = gauss, k = 1, model = FLXMRglm_mlsigma(), control = CONTROL)
record_check("gauss K=1 flexmix: coef vs lm", max_abs_diff(parameters(gk1)[1:2], coef(lm1)), 1e-10)
record_check("gauss K=1 flexmix: sigma vs summary(lm)$sigma (unbiased)",
             abs(parameters(gk1)[3] - summary(lm1)$sigma), 1e-10)
record_check("gauss K=1 ML driver: sigma vs sqrt(RSS/n)",
             abs(parameters(gk1ml)[3] - sqrt(mean(residuals(lm1)^2))), 1e-10)
record_check("gauss K=1 ML driver: logLik vs logLik(lm)",
             abs(logLik(gk1ml) - logLik(lm1)), 1e-8)

gauss_info <- function(driver) list(
  dataset = "gauss_mix.csv", formula = "y ~ x", offset = NULL, weights = NULL,
  family = "gaussian", K = 2L, concomitant_formula = NULL, driver = driver)

fit_c_ml <- fit_flexmix(y ~ x, gauss, FLXMRglm_mlsigma())
fits$gauss_ml <- summarise_flexmix(fit_c_ml, gauss$label, gauss_info(
  "flexmix with FLXMRglm gaussian, M-step sigma replaced by the ML estimate"))

fit_c_fm <- fit_flexmix(y ~ x, gauss, FLXMRglm(family = "gaussian"))
fits$gauss_flexmix_default <- summarise_flexmix(fit_c_fm, gauss$label, gauss_info(
  "flexmix::FLXMRglm(family = \"gaussian\") as shipped (non-ML sigma; for information)"))

# mixtools::regmixEM started from the per-label least-squares fit
start_beta <- sapply(1:2, function(j) coef(lm(y ~ x, data = gauss, subset = label == j)))
start_sigma <- sapply(1:2, function(j) {
  m <- lm(y ~ x, data = gauss, subset = label == j)
  sqrt(mean(residuals(m)^2))
})
start_lambda <- as.numeric(table(gauss$label)) / nrow(gauss)
set.seed(1) # regmixEM only draws random numbers if it has to restart
invisible(capture.output(
  mt <- regmixEM(gauss$y, gauss$x, lambda = start_lambda, beta = start_beta,
                 sigma = start_sigma, k = 2, epsilon = MIXTOOLS_EPSILON, maxit = 100000)
))
if (mt$restarts != 0) stop("regmixEM restarted from random values")
mt_iter <- length(mt$all.loglik) - 1L
mt_df <- 2L * (2L + 1L) + 1L
mt_coef <- lapply(1:2, function(k) {
  b <- mt$beta[, k]
  names(b) <- c("(Intercept)", "x")
  named_list(b)
})
fits$gauss_mixtools <- c(gauss_info(sprintf(
  "mixtools::regmixEM(epsilon = %g) started from the per-label least-squares fit", MIXTOOLS_EPSILON)),
  list(nobs = nrow(gauss), logLik = mt$loglik, df = mt_df,
       AIC = -2 * mt$loglik + 2 * mt_df,
       BIC = -2 * mt$loglik + log(nrow(gauss)) * mt_df,
       iterations = mt_iter, converged = mt_iter < 100000,
       priors = unname(mt$lambda), coefficients = mt_coef, sigma = unname(mt$sigma)),
  label_matching(mt$posterior, gauss$label))

record_check("gauss K=2 ML driver vs regmixEM: logLik",
             abs(fits$gauss_ml$logLik - mt$loglik), 1e-7)
record_check("gauss K=2 ML driver vs regmixEM: coefficients",
             max_abs_diff(fits$gauss_ml$coefficients, mt_coef), 1e-5)
record_check("gauss K=2 ML driver vs regmixEM: sigma",
             max_abs_diff(fits$gauss_ml$sigma, mt$sigma), 1e-5)
record_check("gauss K=2 ML driver vs regmixEM: priors",
             max_abs_diff(fits$gauss_ml$priors, mt$lambda), 1e-5)
record_check("gauss K=2 regmixEM vs polished mle: coefficients",
             max_abs_diff(fits$gauss_ml$mle$coefficients, mt_coef), 1e-5)
record_check("gauss K=2 plain flexmix polished to the same mle",
             max_abs_diff(fits$gauss_flexmix_default$mle$coef, fits$gauss_ml$mle$coef), 1e-8)
cat(sprintf("  [info] plain flexmix sigma %s vs ML sigma %s\n",
            paste(sprintf("%.6f", fits$gauss_flexmix_default$sigma), collapse = ", "),
            paste(sprintf("%.6f", fits$gauss_ml$sigma), collapse = ", ")))

# --------------------------------------------------------------------------
# (d) binomial K = 2
# --------------------------------------------------------------------------
cat("binom_mix\n")
binom <- read_data("binom_mix")
gb1 <- glm(cbind(succ, fail) ~ x, family = binomial, data = binom)
bk1 <- flexmix(cbind(succ, fail) ~ x, data = binom, k = 1,
               model = FLXMRglm(family = "binomial"), control = CONTROL)
record_check("binom K=1: coef vs glm", max_abs_diff(parameters(bk1), coef(gb1)), 1e-6)
record_check("binom K=1: logLik vs glm", abs(logLik(bk1) - logLik(gb1)), 1e-8)

fit_d <- fit_flexmix(cbind(succ, fail) ~ x, binom, FLXMRglm(family = "binomial"))
fits$binom <- summarise_flexmix(fit_d, binom$label, list(
  dataset = "binom_mix.csv", formula = "cbind(succ, fail) ~ x", offset = NULL,
  weights = NULL, family = "binomial", K = 2L, concomitant_formula = NULL,
  driver = "flexmix::FLXMRglm(family = \"binomial\")"))

# --------------------------------------------------------------------------
# (e) Poisson with concomitant FLXPmultinom(~ z)
# --------------------------------------------------------------------------
cat("conc_pois\n")
cpois <- read_data("conc_pois")
fit_e <- fit_flexmix(y ~ x, cpois, FLXMRglm(family = "poisson"), concomitant = FLXPmultinom(~ z))
fits$conc_pois <- summarise_flexmix(fit_e, cpois$label, list(
  dataset = "conc_pois.csv", formula = "y ~ x", offset = NULL, weights = NULL,
  family = "poisson", K = 2L, concomitant_formula = "~ z",
  driver = "flexmix::FLXMRglm(family = \"poisson\"), concomitant = FLXPmultinom(~ z)"))

# --------------------------------------------------------------------------
# (f) Gaussian with concomitant FLXPmultinom(~ z): ML-sigma driver, plain flexmix
# --------------------------------------------------------------------------
cat("conc_gauss\n")
cgauss <- read_data("conc_gauss")
cgauss_info <- function(driver) list(
  dataset = "conc_gauss.csv", formula = "y ~ x", offset = NULL, weights = NULL,
  family = "gaussian", K = 2L, concomitant_formula = "~ z", driver = driver)
fit_f_ml <- fit_flexmix(y ~ x, cgauss, FLXMRglm_mlsigma(), concomitant = FLXPmultinom(~ z))
fits$conc_gauss_ml <- summarise_flexmix(fit_f_ml, cgauss$label, cgauss_info(
  "flexmix with FLXMRglm gaussian (M-step sigma replaced by the ML estimate), concomitant = FLXPmultinom(~ z)"))
fit_f_fm <- fit_flexmix(y ~ x, cgauss, FLXMRglm(family = "gaussian"), concomitant = FLXPmultinom(~ z))
fits$conc_gauss_flexmix_default <- summarise_flexmix(fit_f_fm, cgauss$label, cgauss_info(
  "flexmix::FLXMRglm(family = \"gaussian\") as shipped (non-ML sigma; for information), concomitant = FLXPmultinom(~ z)"))
record_check("conc_gauss plain flexmix polished to the same mle",
             max_abs_diff(fits$conc_gauss_flexmix_default$mle$coef, fits$conc_gauss_ml$mle$coef), 1e-8)

# --------------------------------------------------------------------------
# Consistency of every fit
# --------------------------------------------------------------------------
cat("all fits\n")
for (nm in names(fits)) {
  f <- fits[[nm]]
  ok_labels <- identical(as.integer(f$component_to_label), seq_len(f$K))
  record_check(sprintf("%s: component k matches true label k", nm), if (ok_labels) 0 else 1, 0)
  if (!is.null(f$mle)) {
    record_check(sprintf("%s: max |score| at polished mle", nm), f$mle$max_abs_score, 1e-6)
    record_check(sprintf("%s: EM logLik above polished mle logLik", nm),
                 max(0, f$logLik - f$mle$logLik), 1e-9)
  }
}

versions <- list(
  R = R.version.string,
  flexmix = as.character(packageVersion("flexmix")),
  mixtools = as.character(packageVersion("mixtools")),
  modeltools = as.character(packageVersion("modeltools")),
  nnet = as.character(packageVersion("nnet")),
  numDeriv = as.character(packageVersion("numDeriv")),
  jsonlite = as.character(packageVersion("jsonlite"))
)

result <- list(
  description = paste(
    "Reference finite-mixture GLM fits from R flexmix / mixtools on the CSVs in data/,",
    "all EM runs started from the true labels. See README.md in this directory."),
  generated_by = "tests/reference/flexmix_reference.R",
  versions = versions,
  flexmix_control = CONTROL,
  parametrisation = paste(
    "refit/mle parameter vectors follow flexmix: per component the coefficients then",
    "(Gaussian) log(sigma); then concomitant: alpha_k = log(pi_k/pi_1) for constant priors,",
    "or the multinomial-logit coefficients of components 2..K (component 1 baseline)."),
  fits = fits,
  checks = checks
)

writeLines(toJSON(result, auto_unbox = TRUE, pretty = TRUE, digits = NA,
                  null = "null", na = "null"), out_file)
cat("wrote", out_file, "\n")
n_fail <- sum(!vapply(checks, function(c) isTRUE(c$ok) || is.null(c$ok), logical(1)))
if (n_fail > 0) {
  cat(n_fail, "check(s) failed\n")
  quit(status = 1)
}
