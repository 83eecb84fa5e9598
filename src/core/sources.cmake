# Sources of the core module.
set(ASSAY_CORE_SOURCES
  src/core/alloc.c
  src/core/error.c
  src/core/rng.c
  src/core/threads.c
  src/core/progress.c
  src/core/hash.c
  src/core/tensor.c
  src/core/mfile.c
)
