# Sources of the data module.
set(ASSAY_DATA_SOURCES
  src/data/coltype.c
)
