# Sources of the core module.
set(ASSAY_CORE_SOURCES
  src/core/alloc.c
  src/core/error.c
)
