# Sources of the prep module.
set(ASSAY_PREP_SOURCES
  src/prep/options.c
  src/prep/dedup.c
  src/prep/pipeline.c
  src/prep/pipeline_json.c
  src/prep/text_normalize.c
  src/prep/text_vectorize.c
  src/prep/wordpiece.c
)
