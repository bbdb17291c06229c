# flexmix's bootstrap of its artificial example with two modes (vignette "bootstrapping",
# Grun and Leisch: ArtEx, y ~ x with x in {0, 1}, components (1, -2) and (2, 2), sigma
# sqrt(0.1)). At x = 0 the components are N(1) and N(2), at x = 1 N(-1) and N(4): pairing
# them the other way, (1, 3) and (2, -3), fits nearly as well, so the likelihood has a
# second mode. flexmix's boot() restarts every replicate from random starts (nrep) and
# lands in either mode.
#
# Usage (from the repository root): Rscript tests/reference/flexmix_boot_artex.R
# Writes tests/reference/data/artex.csv (the vignette's data, drawn as the vignette draws
# them) and tests/reference/flexmix_boot_artex.json. Needs r-base-core r-cran-flexmix
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
# The vignette's code, chunks 3-6 and 9.
Component_1 <- list(Model_1 = list(coef = c(1, -2), sigma = sqrt(0.1)))
Component_2 <- list(Model_1 = list(coef = c(2,  2), sigma = sqrt(0.1)))
ArtEx.mix <- FLXdist(y ~ x, k = rep(0.5, 2), components = list(Component_1, Component_2))
ArtEx.data <- data.frame(x = rep(0:1, each = 100/2))
suppressWarnings(RNGversion("3.5.0"))
set.seed(123)
ArtEx.sim <- rflexmix(ArtEx.mix, newdata = ArtEx.data)
ArtEx.data$y <- ArtEx.sim$y[[1]]
ArtEx.data$class <- ArtEx.sim$class
write.csv(ArtEx.data, file.path(script_dir, "data", "artex.csv"), row.names = FALSE)
set.seed(123)
ArtEx.fit <- stepFlexmix(y ~ x, data = ArtEx.data, k = 2, nrep = 5,
                         control = list(iter = 1000, tol = 1e-8, verbose = 0))
set.seed(123)
ArtEx.bs <- boot(ArtEx.fit, R = 200, sim = "parametric")
p <- parameters(ArtEx.bs)  # two rows per replicate, one per component, not aligned
# The second mode: the component with the smaller intercept has the positive slope.
rep_id <- rep(seq_len(nrow(p) / 2), each = 2)
second <- tapply(seq_len(nrow(p)), rep_id, function(i) p[i, "coef.x"][which.min(p[i, "coef.(Intercept)"])] > 0)
out <- list(
  flexmix = as.character(packageVersion("flexmix")),
  fit = list(coef = parameters(ArtEx.fit)["coef.x", ],
             intercept = parameters(ArtEx.fit)["coef.(Intercept)", ],
             logLik = as.numeric(logLik(ArtEx.fit)), prior = prior(ArtEx.fit)),
  boot = list(R = 200, sim = "parametric",
              sd_pooled = as.list(apply(p, 2, sd)),
              share_second_mode = mean(second))
)
print(str(out))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(script_dir, "flexmix_boot_artex.json"))
