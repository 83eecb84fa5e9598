# Sources of the store module.
set(ASSAY_STORE_SOURCES
  src/store/path.c
)
