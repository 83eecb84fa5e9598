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
#   pretraining: `assay pretrain` on the bundled reviews, 12 steps of 32 x 128 tokens (tokens/s
#   from its JSON, all steps), against PyTorch's masked-LM steps of the same shape.
#   latency: `assay serve` with the fine-tuned model answering one review of more than 128
#   tokens per request (curl's time_total: HTTP, JSON, WordPiece and the forward pass; median of
#   50 requests after 5 unmeasured; each request computes on one core, as the server's request
#   threads do) against one PyTorch forward pass of batch 1 x 128, on 2 threads and on 1.
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
# one request: the first inference row's text (cut to 128 tokens by the model), as JSON
jq -Rn --arg t "$(sed -n 1p "$W/body.csv" | sed 's/^"//; s/",[ab]$//')" '{instances: [{text: $t}]}' > "$W/one.json"
# latency MODEL: the median milliseconds of 50 one-review requests to `assay serve MODEL`
latency() {
  local log=$W/serve.log url pid ms=()
  "$ASSAY" serve "$1" --port 0 --threads 2 --db none 2> "$log" &
  pid=$!
  for _ in $(seq 1 400); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.05; done
  url=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -1)
  for i in $(seq 1 55); do
    t=$(curl -s -o /dev/null -w '%{time_total}' -X POST "$url/v1/models/m:predict" --data-binary @"$W/one.json")
    [ "$i" -gt 5 ] && ms+=("$(echo "$t * 1000" | bc -l)")
  done
  kill "$pid"; wait "$pid" 2> /dev/null || true
  printf '%s\n' "${ms[@]}" | med
}
med() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# fp32 for both tools; bf16 too where the CPU has AVX512_BF16 or AMX: assay --precision bf16
# against PyTorch's autocast (training) and a bf16-cast model (inference)
PRECS=(fp32)
grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo && PRECS+=(bf16)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); date: $(date -u +%Y-%m-%d); torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
echo "shape: 4 layers, hidden 256, 4 heads, FF 1024, vocab 8000, 128 tokens; 2 threads; medians of $REPS"
for prec in "${PRECS[@]}"; do
  at=() ai=() pt=() pi=() ap=() pp=() al=() pl=() pl1=()
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
    rm -rf "$W/pt"
    ap+=("$("$ASSAY" pretrain examples/fine_foods_train.csv --column review --vocab "$W/enc/vocab.txt" --out "$W/pt" \
        --steps 12 --batch-size 32 --seq-len 128 --threads 2 --quiet --db none --json --precision "$prec" | jq -r .tokens_per_s)")
    pp+=("$(/usr/bin/python3 bench/torch_bert.py --mode pretrain --batch 32 --steps 10 "${tflag[@]}" | sed -n 's/.*tokens_per_s=\([^ ]*\).*/\1/p')")
    al+=("$(latency "$W/m.assay")")
    pl+=("$(/usr/bin/python3 bench/torch_bert.py --mode latency --steps 50 "${tflag[@]}" | sed -n 's/.*latency_ms=\([^ ]*\).*/\1/p')")
    pl1+=("$(/usr/bin/python3 bench/torch_bert.py --mode latency --steps 50 --threads 1 "${tflag[@]}" | sed -n 's/.*latency_ms=\([^ ]*\).*/\1/p')")
  done
  A_P=$(printf '%s\n' "${ap[@]}" | med) P_P=$(printf '%s\n' "${pp[@]}" | med)
  A_L=$(printf '%s\n' "${al[@]}" | med) P_L=$(printf '%s\n' "${pl[@]}" | med) P_L1=$(printf '%s\n' "${pl1[@]}" | med)
  A_T=$(printf '%s\n' "${at[@]}" | med) A_I=$(printf '%s\n' "${ai[@]}" | med)
  P_T=$(printf '%s\n' "${pt[@]}" | med) P_I=$(printf '%s\n' "${pi[@]}" | med)
  printf '%s fine-tuning (batch 16): assay %.0f tokens/s, PyTorch %.0f tokens/s: assay x%.2f\n' "$prec" "$A_T" "$P_T" "$(echo "$A_T / $P_T" | bc -l)"
  printf '%s inference (512 rows): assay predict %.1f seqs/s (whole command), PyTorch forward %.1f seqs/s (batch 32): assay x%.2f\n' \
    "$prec" "$A_I" "$P_I" "$(echo "$A_I / $P_I" | bc -l)"
  printf '%s pretraining (batch 32 x 128): assay %.0f tokens/s, PyTorch %.0f tokens/s: assay x%.2f\n' "$prec" "$A_P" "$P_P" "$(echo "$A_P / $P_P" | bc -l)"
  printf '%s one-sequence latency (128 tokens): assay serve %.2f ms per request (HTTP round trip, one core), PyTorch forward %.2f ms (2 threads) / %.2f ms (1 thread): assay x%.2f / x%.2f\n' \
    "$prec" "$A_L" "$P_L" "$P_L1" "$(echo "$P_L / $A_L" | bc -l)" "$(echo "$P_L1 / $A_L" | bc -l)"
  eval "T_$prec=$A_T I_$prec=$A_I PT_$prec=$P_T PI_$prec=$P_I"
done
if [ "${#PRECS[@]}" = 2 ]; then
  printf 'assay bf16 against assay fp32: fine-tuning x%.2f, inference x%.2f; against PyTorch fp32: x%.2f, x%.2f\n' \
    "$(echo "$T_bf16 / $T_fp32" | bc -l)" "$(echo "$I_bf16 / $I_fp32" | bc -l)" \
    "$(echo "$T_bf16 / $PT_fp32" | bc -l)" "$(echo "$I_bf16 / $PI_fp32" | bc -l)"
fi
