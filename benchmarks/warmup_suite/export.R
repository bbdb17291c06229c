# Exports the real data sets of the warm-up suite (benchmarks/warmup_cases.py) to CSV.
#   Rscript benchmarks/warmup_suite/export.R   (from the repository root)
# Needs the R packages AER, MASS, pscl (Debian: r-cran-aer r-cran-mass r-cran-pscl).
suppressMessages({library(AER); library(MASS); library(pscl)})
out <- "benchmarks/warmup_suite"
put <- function(df, name) {
  write.csv(df, file.path(out, paste0(name, ".csv")), row.names = FALSE)
  cat(name, nrow(df), "rows\n")
}
data("DoctorVisits", package = "AER")
put(DoctorVisits[, c("visits", "gender", "age", "income", "illness", "reduced", "health")],
    "doctorvisits")
data("NMES1988", package = "AER")
put(NMES1988[, c("visits", "health", "chronic", "adl", "age", "gender", "school", "insurance")],
    "nmes1988")
data("RecreationDemand", package = "AER")
put(RecreationDemand, "recreation")
data("bioChemists", package = "pscl")
put(bioChemists, "biochemists")
put(datasets::faithful, "faithful")
put(data.frame(velocity = MASS::galaxies / 1000), "galaxies")
put(MASS::Boston[, c("medv", "lstat", "rm")], "boston")
put(MASS::quine, "quine")
