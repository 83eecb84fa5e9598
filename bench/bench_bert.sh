#!/usr/bin/env bash
# bench_bert.sh - BERT fine-tuning and inference speed: assay against PyTorch
# (bench/torch_bert.py, torch.nn.TransformerEncoder) on the same shape (4 layers, hidden 256,
# 4 heads, feed-forward 1024, vocabulary 8000), full sequences of 128 tokens, 2 threads, in the
# same run; medians of REPS runs.
#   assay: an encoder from `assay pretrain --steps 1` (its vocabulary trained on the bundled
#   reviews), rows of concatenated reviews long enough that every one is cut to 128 tokens;
#   training: `assay fit --model bert --epochs 1 --batch-size 16` on 320 rows (tokens/s from its
#   JSON: whole steps, forward + backward + AdamW); inference: the wall time of the whole
#   `assay predict` command on 512 rows (reading, tokenization, model load, forward).
#   PyTorch: random ids of the same shape, the model already in memory, no tokenization.
#   Both precisions where the CPU has bf16 (AVX512_BF16 or AMX): assay --precision bf16 against
#   PyTorch's CPU autocast to bf16 (training) and the model cast to bf16 (inference).
# Needs: make release; ASSAY_SETUP_PEERS=1 bash scripts/setup.sh (python3-torch, jq).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
ASSAY=${ASSAY:-./build/release/assay}
[ -x "$ASSAY" ] || { echo "build first: make release" >&2; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export OMP_NUM_THREADS=2
"$ASSAY" pretrain examples/fine_foods_train.csv --column review --out "$W/enc" --layers 4 --hidden 256 \
  --heads 4 --seq-len 128 --vocab-size 8000 --steps 1 --threads 2 --quiet --db none > /dev/null
# rows of ~2,000 characters (several reviews each): every one longer than 128 tokens
awk -F'","' 'NR > 1 { s = s " " $2; if (length(s) > 2000) { gsub(/"/, "", s); print "\"" s "\"," (n++ % 2 ? "a" : "b"); s = "" } }' \
  examples/fine_foods_train.csv | head -832 > "$W/body.csv"
{ echo "text,label"; head -320 "$W/body.csv"; } > "$W/train.csv"
{ echo "text,label"; tail -512 "$W/body.csv"; } > "$W/infer.csv"
med() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# fp32 for both tools; bf16 too where the CPU has AVX512_BF16 or AMX: assay --precision bf16
# against PyTorch's autocast (training) and a bf16-cast model (inference)
PRECS=(fp32)
grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo && PRECS+=(bf16)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); date: $(date -u +%Y-%m-%d); torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
echo "shape: 4 layers, hidden 256, 4 heads, FF 1024, vocab 8000, 128 tokens; 2 threads; medians of $REPS"
for prec in "${PRECS[@]}"; do
  at=() ai=() pt=() pi=()
  tflag=() ; [ "$prec" = bf16 ] && tflag=(--bf16)
  for r in $(seq 1 "$REPS"); do
    j=$("$ASSAY" fit "$W/train.csv" --target label --model bert --encoder "$W/enc" --epochs 1 --batch-size 16 \
        --test-size 0 --threads 2 --db none --out "$W/m.assay" --json --precision "$prec")
    at+=("$(jq -r .training.tokens_per_second <<< "$j")")
    t0=$(date +%s.%N)
    "$ASSAY" predict "$W/m.assay" "$W/infer.csv" --threads 2 --db none --out "$W/p.csv"
    t1=$(date +%s.%N)
    ai+=("$(echo "512 / ($t1 - $t0)" | bc -l)")
    pt+=("$(/usr/bin/python3 bench/torch_bert.py --mode train --batch 16 --steps 20 "${tflag[@]}" | sed -n 's/.*tokens_per_s=\([^ ]*\).*/\1/p')")
    pi+=("$(/usr/bin/python3 bench/torch_bert.py --mode infer --batch 32 --steps 16 "${tflag[@]}" | sed -n 's/.*seqs_per_s=\([^ ]*\).*/\1/p')")
  done
  A_T=$(printf '%s\n' "${at[@]}" | med) A_I=$(printf '%s\n' "${ai[@]}" | med)
  P_T=$(printf '%s\n' "${pt[@]}" | med) P_I=$(printf '%s\n' "${pi[@]}" | med)
  printf '%s fine-tuning (batch 16): assay %.0f tokens/s, PyTorch %.0f tokens/s: assay x%.2f\n' "$prec" "$A_T" "$P_T" "$(echo "$A_T / $P_T" | bc -l)"
  printf '%s inference (512 rows): assay predict %.1f seqs/s (whole command), PyTorch forward %.1f seqs/s (batch 32): assay x%.2f\n' \
    "$prec" "$A_I" "$P_I" "$(echo "$A_I / $P_I" | bc -l)"
  eval "T_$prec=$A_T I_$prec=$A_I PT_$prec=$P_T PI_$prec=$P_I"
done
if [ "${#PRECS[@]}" = 2 ]; then
  printf 'assay bf16 against assay fp32: fine-tuning x%.2f, inference x%.2f; against PyTorch fp32: x%.2f, x%.2f\n' \
    "$(echo "$T_bf16 / $T_fp32" | bc -l)" "$(echo "$I_bf16 / $I_fp32" | bc -l)" \
    "$(echo "$T_bf16 / $PT_fp32" | bc -l)" "$(echo "$I_bf16 / $PI_fp32" | bc -l)"
fi
