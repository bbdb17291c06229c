# Fit the data written by bench_em.py with R flexmix from the same starting labels.
# Usage: Rscript bench_flexmix.R <data.bin> <family> <tolerance> [<max iterations>]
# Prints one line: "iterations seconds logLik".
suppressPackageStartupMessages(library(flexmix))
args <- commandArgs(trailingOnly = TRUE)
con <- file(args[1], "rb")
n <- readBin(con, "integer", 1)
p <- readBin(con, "integer", 1)
y <- readBin(con, "double", n)
X <- matrix(readBin(con, "double", n * p), n, p)
lab <- readBin(con, "integer", n)
trials <- readBin(con, "double", n)
close(con)
family <- args[2]
tol <- as.numeric(args[3])
max_iter <- if (length(args) >= 4) as.integer(args[4]) else 100000L

d <- data.frame(X[, -1, drop = FALSE])
names(d) <- paste0("x", seq_len(p - 1))
rhs <- paste(names(d), collapse = " + ")
if (family == "binomial") {
  d$s <- round(y * trials)
  d$f <- trials - d$s
  fo <- as.formula(paste("cbind(s, f) ~", rhs))
} else {
  d$y <- y
  fo <- as.formula(paste("y ~", rhs))
}
ctrl <- list(tolerance = tol, iter.max = max_iter, minprior = 0)
elapsed <- system.time(
  m <- flexmix(fo, data = d, k = 3, cluster = lab, model = FLXMRglm(family = family),
               control = ctrl)
)[["elapsed"]]
cat(sprintf("%d %.4f %.10f\n", m@iter, elapsed, as.numeric(logLik(m))))
