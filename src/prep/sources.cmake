# Sources of the prep module.
set(ASSAY_PREP_SOURCES
  src/prep/options.c
)
