#!/usr/bin/env bash
# bert_fine_foods.sh - does pretraining pay? A 4-layer, 256-hidden BERT (4 heads, FF 1024,
# WordPiece vocabulary of 8,000) pretrained by masked language modelling on Jane Austen's novels
# plus the review texts of fine_foods_train.csv, then fine-tuned on fine_foods (score: great /
# other), against the same architecture and vocabulary fine-tuned from random weights
# (init=random) with the same settings. Prints both test accuracies and AUCs.
#   AUSTEN: the austen.txt corpus (default ../shared/data/austen.txt); PRETRAIN_STEPS (1600,
#   batch 32 x 128 tokens), EPOCHS (3), LR (1e-4), POOLING (mean or cls): the fine-tuning
#   settings; OUT: where the
#   encoder goes (default /tmp/assay_bert_ff). PRETRAIN_LR (5e-4), COPIES (1: how many times the
#   reviews are given beside Austen), PRECISION (fp32 or bf16), SEEDS (42: the fine-tuning seeds).
#   The bf16 run of bench/RESULTS.md: PRETRAIN_STEPS=7000 PRETRAIN_LR=1e-3 COPIES=3
#   PRECISION=bf16 SEEDS="42 1".
#   TAPT: continued pretraining on the training reviews alone (`assay pretrain --from`) before
#   fine-tuning, a list of STEPS:LR stages, each starting from the one before (default none).
#   The task-adaptive run of bench/RESULTS.md: the bf16 run above plus
#   TAPT="1500:5e-4 1500:3e-4 1500:3e-4" SEEDS="42 1 7 3".
# Needs: make release. Takes about an hour on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ASSAY=${ASSAY:-./build/release/assay}
AUSTEN=${AUSTEN:-../shared/data/austen.txt}
STEPS=${PRETRAIN_STEPS:-1600} EPOCHS=${EPOCHS:-3} LR=${LR:-1e-4} POOLING=${POOLING:-mean}
PLR=${PRETRAIN_LR:-5e-4} COPIES=${COPIES:-1} PRECISION=${PRECISION:-fp32} SEEDS=${SEEDS:-42}
TAPT=${TAPT:-}
OUT=${OUT:-/tmp/assay_bert_ff}
TRAIN=examples/fine_foods_train.csv TEST=examples/fine_foods_test.csv
[ -x "$ASSAY" ] || { echo "build first: make release" >&2; exit 1; }
[ -s "$AUSTEN" ] || { echo "no corpus at $AUSTEN (set AUSTEN)" >&2; exit 1; }
mkdir -p "$OUT"
if [ ! -s "$OUT/enc/model.safetensors" ]; then
  reviews=()
  for _ in $(seq 1 "$COPIES"); do reviews+=("$TRAIN"); done
  "$ASSAY" pretrain "$AUSTEN" "${reviews[@]}" --column review --out "$OUT/enc" --layers 4 --hidden 256 --heads 4 \
    --seq-len 128 --vocab-size 8000 --steps "$STEPS" --batch-size 32 --lr "$PLR" --save-every 200 --seed 42 \
    --precision "$PRECISION" --db none
fi
ENC=$OUT/enc stage=0
for st in $TAPT; do
  stage=$((stage + 1))
  if [ ! -s "$OUT/tapt$stage/model.safetensors" ]; then
    "$ASSAY" pretrain "$TRAIN" --column review --from "$ENC" --out "$OUT/tapt$stage" --steps "${st%%:*}" \
      --lr "${st#*:}" --batch-size 32 --save-every 500 --seed 42 --precision "$PRECISION" --db none
  fi
  ENC=$OUT/tapt$stage
done
for seed in $SEEDS; do
  for init in pretrained random; do
    "$ASSAY" fit "$TRAIN" --target score --test "$TEST" --model bert --encoder "$ENC" --epochs "$EPOCHS" \
      --lr "$LR" --batch-size 16 --params init=$init,pooling=$POOLING --precision "$PRECISION" --seed "$seed" \
      --db none --out "$OUT/$init.assay" --json > "$OUT/$init.json"
    jq -r --arg i "$init" --arg s "$seed" '"\($i) seed \($s): test accuracy \(.metrics.test.accuracy), AUC \(.metrics.test.roc_auc), training loss by epoch \(.training.train_loss | map(. * 1000 | round / 1000)), \(.training.tokens_per_second | round) tokens/s"' "$OUT/$init.json"
  done
done
awk -F, 'NR > 1 { n++; s += $2; if (n % 200 == 0) { printf "pretraining loss, steps %d-%d: %.3f\n", n - 199, n, s / 200; s = 0 } }' "$ENC/loss.csv"
