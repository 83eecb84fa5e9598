# Sources of the store module.
set(ASSAY_STORE_SOURCES
  src/store/path.c
  src/store/sqlite.c
  src/store/store.c
)
