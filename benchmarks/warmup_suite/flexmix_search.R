# Independent search for the best optimum of each case of the warm-up suite with R flexmix:
# NREP fits of flexmix() from its default random starts (one set.seed per fit), keeping
# the best fit that keeps all K components. Writes flexmix.json: per case the best
# logLik, its k, how many fits kept K, and the best fit's hard labels (which
# benchmarks/warmup_search.py polishes with emglm).
#   python benchmarks/warmup_search.py --export-sims /tmp/warmup_sims
#   Rscript benchmarks/warmup_suite/flexmix_search.R /tmp/warmup_sims [NREP]
suppressMessages({library(flexmix); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
sims <- args[1]
nrep <- if (length(args) > 1) as.integer(args[2]) else 30L
suite <- "benchmarks/warmup_suite"
cases <- fromJSON(file.path(sims, "cases.json"), simplifyVector = FALSE)
out <- list()
for (cs in cases) {
  if (is.null(cs$r_formula)) next
  path <- file.path(suite, paste0(cs$name, ".csv"))
  if (!file.exists(path)) path <- file.path(sims, paste0(cs$name, ".csv"))
  df <- read.csv(path, stringsAsFactors = TRUE)
  model <- FLXMRglm(family = cs$family)
  conc <- if (is.null(cs$concomitant)) FLXPconstant() else FLXPmultinom(as.formula(cs$concomitant))
  best <- NULL; n_full <- 0L; t0 <- proc.time()[["elapsed"]]
  for (r in seq_len(nrep)) {
    set.seed(r)
    fit <- tryCatch(
      flexmix(as.formula(cs$r_formula), data = df, k = cs$K, model = model,
              concomitant = conc, control = list(iter.max = 1000, tolerance = 1e-8)),
      error = function(e) NULL)
    if (is.null(fit) || fit@k != cs$K) next
    n_full <- n_full + 1L
    if (is.null(best) || logLik(fit) > logLik(best)) { best <- fit; best_seed <- r }
  }
  secs <- proc.time()[["elapsed"]] - t0
  res <- list(nrep = nrep, n_kept_K = n_full, seconds = secs)
  if (!is.null(best)) {
    res$llf <- as.numeric(logLik(best)); res$seed <- best_seed
    res$labels <- as.integer(clusters(best) - 1L)
  }
  cat(cs$name, "best", if (is.null(best)) NA else res$llf, "kept K in", n_full, "of", nrep,
      sprintf("(%.0f s)\n", secs))
  out[[cs$name]] <- res
}
write_json(list(flexmix = as.character(packageVersion("flexmix")), nrep = nrep, cases = out),
           file.path(suite, "flexmix.json"), digits = NA, auto_unbox = TRUE)
