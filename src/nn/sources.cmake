# Sources of the nn module: kernels (layers, losses), optimizers, schedules, initializers.
set(ASSAY_NN_SOURCES
  src/nn/gemm.c
  src/nn/layers.c
  src/nn/norm.c
  src/nn/loss.c
  src/nn/optim.c
  src/nn/net.c
  src/nn/train.c
  src/nn/bert.c
  src/nn/bert_io.c
  src/nn/bert_mlm.c
)
