# flexmix's ICL (hard assignment: -2 clogLik + df log(nobs)), clogLik and summary()'s
# component table (prior, size, post>0, ratio) on two of the
# simulated data sets of make_reference_data.py, from the true labels.
#
# Usage (from the repository root): Rscript tests/reference/flexmix_icl.R
# Writes tests/reference/flexmix_icl.json. Needs r-base-core r-cran-flexmix r-cran-jsonlite.

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
one <- function(fit) {
  tab <- summary(fit)@comptab
  list(logLik = as.numeric(logLik(fit)), clogLik = flexmix:::clogLik(fit),
       ICL = ICL(fit), BIC = BIC(fit), df = fit@df,
       comptab = list(prior = tab$prior, size = tab$size, post = tab[["post>0"]],
                      ratio = tab$ratio))
}
d <- read_data("pois_mix")
pois <- flexmix(y ~ x1 + x2, data = d, k = 2, cluster = d$label, control = CONTROL,
                model = FLXMRglm(family = "poisson", offset = log(d$expo)))
d <- read_data("binom_mix")
binom <- flexmix(cbind(succ, fail) ~ x, data = d, k = 2, cluster = d$label,
                 control = CONTROL, model = FLXMRglm(family = "binomial"))
fits <- list(pois_offset = one(pois), binom = one(binom))
print(str(fits))
writeLines(toJSON(list(flexmix = as.character(packageVersion("flexmix")), fits = fits),
                  auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(script_dir, "flexmix_icl.json"))
