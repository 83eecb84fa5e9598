# Sources of the eval module.
set(ASSAY_EVAL_SOURCES
  src/eval/metrics.c
  src/eval/names.c
  src/eval/report.c
  src/eval/curves.c
  src/eval/value.c
  src/eval/svg.c
)
