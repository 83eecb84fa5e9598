# Sources of the models module.
set(ASSAY_MODELS_SOURCES
  src/models/task.c
)
