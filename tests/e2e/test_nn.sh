#!/usr/bin/env bash
# test_nn.sh ASSAY SRC - neural networks end to end: mlp and cnn on the bundled Fashion-MNIST
# subset (IDX, gzip), the training history and the store, predict on images agreeing with fit's
# test predictions, the same seed giving the same model file, a PNG class folder, an mlp on a
# table, and the refusals (corrupt IDX, label count mismatch, unknown layer, network options on
# other models, a learning rate that makes the loss non-finite, images given to a table model
# and the reverse).
source "$(dirname "$0")/lib.sh"
FM="$SRC/examples/fashion-mnist-small"
TR=("$FM/train-images-idx3-ubyte.gz" --labels "$FM/train-labels-idx1-ubyte.gz")
TE=(--test "$FM/t10k-images-idx3-ubyte.gz" --test-labels "$FM/t10k-labels-idx1-ubyte.gz")

# -- mlp on images ----------------------------------------------------------------------------
"$ASSAY" fit "${TR[@]}" "${TE[@]}" --model mlp --hidden 128 --epochs 6 --seed 3 --out mlp.assay \
  --predictions mlp_pred.csv --db runs.db --json > mlp.json
check "mlp: exits 0" test $? -eq 0
acc=$(jqv .metrics.test.accuracy mlp.json)
check "mlp: test accuracy $acc > 0.75 on 500 images after 2,000 training images" gt "$acc" 0.75
check "mlp: 10 classes" test "$(jq '.labels | length' mlp.json)" -eq 10
check "mlp: 6 epochs of history" test "$(jq '.training.train_loss | length' mlp.json)" -eq 6
l1=$(jq '.training.train_loss[0]' mlp.json); l6=$(jq '.training.train_loss[5]' mlp.json)
check "mlp: training loss falls ($l1 -> $l6)" gt "$l1" "$l6"
check "mlp: arch from --hidden" test "$(jqv .params mlp.json)" = "arch=fc128,epochs=6,input=1x28x28"
check "mlp: registered in the store" test "$(jqv .registry.version mlp.json)" = 1
"$ASSAY" predict mlp.assay "$FM/t10k-images-idx3-ubyte.gz" --proba --out pred.csv --db none
check "predict: one row per test image" test "$(($(wc -l < pred.csv) - 1))" -eq 500
check "predict: same decisions as fit's test predictions" \
  cmp <(cut -d, -f3 mlp_pred.csv | tail -n +2) <(cut -d, -f2 pred.csv | tail -n +2)
"$ASSAY" predict mlp.assay "$FM/t10k-images-idx3-ubyte.gz" --json --db none > pred.json
check "predict --json: 500 predictions" test "$(jq '.predictions | length' pred.json)" -eq 500
"$ASSAY" fit "${TR[@]}" --model mlp --hidden 64 --epochs 2 --dropout 0.2 --seed 5 --test-size 0 --out s1.assay --db none --quiet
"$ASSAY" fit "${TR[@]}" --model mlp --hidden 64 --epochs 2 --dropout 0.2 --seed 5 --test-size 0 --out s2.assay --db none --quiet
check "same seed, same data: byte-identical model files" cmp s1.assay s2.assay

# --precision bf16: where /proc/cpuinfo shows AVX512_BF16 or AMX, the products run in bf16 (a
# different model, about as accurate, reproducible); elsewhere (and with oneDNN held to AVX2) a
# refusal naming the CPU's instruction set
if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
  "$ASSAY" fit "${TR[@]}" "${TE[@]}" --model mlp --hidden 128 --epochs 6 --seed 3 --precision bf16 --out mlpb.assay \
    --predictions mlpb_pred.csv --db none --json > mlpb.json
  acc=$(jqv .metrics.test.accuracy mlpb.json)
  check "mlp bf16: precision recorded, test accuracy $acc > 0.75" \
    test "$(jq -r .training.precision mlpb.json)" = bf16 -a "$(awk -v a="$acc" 'BEGIN { print (a > 0.75) }')" = 1
  check "mlp bf16: another model than fp32's" test "$(cmp -s mlp.assay mlpb.assay; echo $?)" = 1
  "$ASSAY" predict mlpb.assay "$FM/t10k-images-idx3-ubyte.gz" --out predb.csv --db none
  check "mlp bf16: predict gives fit's test decisions" \
    cmp <(cut -d, -f3 mlpb_pred.csv | tail -n +2) <(cut -d, -f2 predb.csv | tail -n +2)
  "$ASSAY" fit "${TR[@]}" --model mlp --hidden 64 --epochs 2 --dropout 0.2 --seed 5 --test-size 0 --precision bf16 \
    --out b1.assay --db none --quiet
  "$ASSAY" fit "${TR[@]}" --model mlp --hidden 64 --epochs 2 --dropout 0.2 --seed 5 --test-size 0 --precision bf16 \
    --out b2.assay --db none --quiet
  check "mlp bf16: same seed, same data: byte-identical model files" cmp b1.assay b2.assay
fi
expect_error "mlp bf16 on a CPU without it" "mlp: precision=bf16 needs a CPU with AVX512_BF16 or AMX; this one has avx2" \
  env ONEDNN_MAX_CPU_ISA=AVX2 "$ASSAY" fit "${TR[@]}" --model mlp --epochs 1 --precision bf16 --db none
expect_error "--precision: an unknown value" "precision" \
  "$ASSAY" fit "${TR[@]}" --model mlp --epochs 1 --precision fp16 --db none

# -- cnn on images ----------------------------------------------------------------------------
"$ASSAY" fit "${TR[@]}" "${TE[@]}" --model cnn --arch conv8-pool-conv16-pool-fc32 --epochs 3 \
  --out cnn.assay --db none --json > cnn.json
check "cnn: exits 0" test $? -eq 0
acc=$(jqv .metrics.test.accuracy cnn.json)
check "cnn: test accuracy $acc > 0.70" gt "$acc" 0.70
check "cnn: throughput reported" gt "$(jqv .training.gflops cnn.json)" 0
# early stopping on a validation split
"$ASSAY" fit "${TR[@]}" --model mlp --hidden 32 --epochs 30 --early-stopping 2 --lr 0.05 \
  --test-size 0 --out es.assay --db none --json > es.json
check "early stopping: validation loss recorded" test "$(jq '.training.val_loss | map(select(. != null)) | length' es.json)" -ge 3
ran=$(jq '.training.epochs' es.json); best=$(jq '.training.best_epoch' es.json)
check "early stopping: stopped at $ran, 2 after the best epoch $best, or ran out" \
  test "$ran" -eq $((best + 2)) -o "$ran" -eq 30

# -- a folder of PNG images, one sub-folder per class -----------------------------------------
"$ASSAY" fit "$SRC/tests/fixtures/images/png/rgb" --model cnn --arch conv4-pool-fc8 --epochs 3 \
  --test-size 0 --out png.assay --db none --json > png.json
check "png folder: 2 classes named after the folders" test "$(jq -r '.labels | join(",")' png.json)" = "a,b"
check "png folder: 3 channels" test "$(jq -r '.data.shape | join("x")' png.json)" = "3x4x6" -o \
  "$(jq -r '.data.shape[0]' png.json)" = 3
"$ASSAY" predict png.assay "$SRC/tests/fixtures/images/png/rgb" --out png_pred.csv --db none
check "png folder: predict gives 5 rows" test "$(($(wc -l < png_pred.csv) - 1))" -eq 5

# -- mlp on a table -------------------------------------------------------------------------------
"$ASSAY" fit "$SRC/examples/credit_data.csv" --target Status --positive bad --model mlp --hidden 32 \
  --epochs 15 --cv 0 --out tab.assay --db none --json > tab.json
auc=$(jqv .metrics.test.roc_auc tab.json)
check "mlp on credit_data: test AUC $auc > 0.78" gt "$auc" 0.78
"$ASSAY" predict tab.assay "$SRC/examples/credit_data.csv" --out tab_pred.csv --db none
check "mlp on a table: predict writes every row" test "$(($(wc -l < tab_pred.csv) - 1))" -eq 4454

# -- refusals -------------------------------------------------------------------------------------
IDX="$SRC/tests/fixtures/images/idx"
expect_error "corrupt IDX" "bad-magic.idx.*magic" "$ASSAY" fit "$IDX/bad-magic.idx" --labels "$IDX/tiny-labels.idx" --db none
expect_error "truncated gzip IDX" "truncated" "$ASSAY" fit "$IDX/truncated.idx.gz" --labels "$IDX/tiny-labels.idx" --db none
expect_error "label count mismatch" "labels-2.idx.*2 labels" "$ASSAY" fit "$IDX/tiny-images.idx" --labels "$IDX/labels-2.idx" --db none
expect_error "unknown layer" "unknown layer 'conv3z'" "$ASSAY" fit "${TR[@]}" --model cnn --arch conv3z-pool --db none
expect_error "layer too big for the input" "needs an input of at least" "$ASSAY" fit "${TR[@]}" --model cnn --arch pool-pool-pool-pool-pool-pool --db none
expect_error "network options on logreg" "are for --model mlp or cnn" "$ASSAY" fit "$SRC/examples/credit_data.csv" --target Status --model logreg --epochs 3 --db none
expect_error "cnn on a table" "convolutions need images" "$ASSAY" fit "$SRC/examples/credit_data.csv" --target Status --model cnn --cv 0 --db none
expect_error "gbdt on images" "does not take images" "$ASSAY" fit "${TR[@]}" --model gbdt --db none
expect_error "non-finite loss names epoch and step" "epoch 1, step [0-9]+" "$ASSAY" fit "${TR[@]}" --model mlp --optimizer sgd --lr 100 --epochs 1 --test-size 0 --db none
expect_error "image model on a table" "takes 1x28x28 images|not an IDX" "$ASSAY" predict mlp.assay "$SRC/examples/credit_data.csv" --db none
expect_error "table model on images" "images .IDX or a folder., but this logreg model takes table rows|takes table rows" "$ASSAY" predict tab.assay "$FM/t10k-images-idx3-ubyte.gz" --db none
check "no model file left by a failed fit" test ! -e train-images-idx3-ubyte.assay
finish
