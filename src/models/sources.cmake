# Sources of the models module.
set(ASSAY_MODELS_SOURCES
  src/models/task.c
  src/models/params.c
  src/models/registry.c
  src/models/linalg.c
  src/models/logreg.c
  src/models/linear.c
  src/models/gbdt.c
  src/models/gbdt_tree.c
  src/models/mlp.c
  src/models/textclf.c
  src/models/nb.c
  src/models/ensemble.c
  src/models/svm.c
  src/models/calibrate.c
  src/models/model.c
)
