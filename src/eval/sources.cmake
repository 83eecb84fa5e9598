# Sources of the eval module.
set(ASSAY_EVAL_SOURCES
  src/eval/names.c
)
