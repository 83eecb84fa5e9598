#!/usr/bin/env bash
# bench_fit.sh [ROWS] - `assay fit --model logreg` against the scikit-learn pipeline it replaces,
# in the same run on the same data: wall time and peak memory (median of REPS runs), and the
# ratio. Both train on the same 80% and score the same 20% (bench/split_file.py writes the two
# files), so the test ROC AUCs are comparable. Data: examples/credit_data.csv with 5-fold CV on
# the training rows, and a synthetic ROWS-row scale-up (default 1,000,000) without CV.
# Needs: make release; ASSAY_SETUP_PEERS=1 bash scripts/setup.sh (pandas, scikit-learn, bc).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
REPS=${REPS:-3}
ASSAY=./build/release/assay
BIG=/tmp/assay_bench_credit_${ROWS}.csv
[ -x "$ASSAY" ] || { echo "build first: make release" >&2; exit 1; }
[ -s "$BIG" ] || /usr/bin/python3 bench/make_scaleup.py "$ROWS" "$BIG"

# measure CMD...: prints "seconds peak_kib" of one run
measure() {
  local f; f=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$f" "$@" > /dev/null 2>&1
  cat "$f"; rm -f "$f"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

run_case() { # NAME DATA CV
  local name=$1 data=$2 cv=$3 at=() am=() pt=() pm=()
  local tr=/tmp/assay_bench_train_$(basename "$data") te=/tmp/assay_bench_test_$(basename "$data")
  [ -s "$tr" ] && [ -s "$te" ] || /usr/bin/python3 bench/split_file.py "$data" Status "$tr" "$te"
  for _ in $(seq "$REPS"); do
    read -r s m < <(measure "$ASSAY" fit "$tr" --test "$te" --target Status --positive bad \
      --model logreg --cv "$cv" --db none --quiet --out /tmp/assay_bench.assay)
    at+=("$s"); am+=("$m")
    read -r s m < <(measure /usr/bin/python3 bench/sklearn_fit.py "$tr" "$te" Status bad "$cv")
    pt+=("$s"); pm+=("$m")
  done
  local a_t a_m p_t p_m
  a_t=$(printf '%s\n' "${at[@]}" | median); a_m=$(printf '%s\n' "${am[@]}" | median)
  p_t=$(printf '%s\n' "${pt[@]}" | median); p_m=$(printf '%s\n' "${pm[@]}" | median)
  local a_auc p_auc
  a_auc=$("$ASSAY" fit "$tr" --test "$te" --target Status --positive bad --model logreg --cv 0 \
          --db none --quiet --out /tmp/assay_bench.assay --json | jq -r .metrics.test.roc_auc)
  p_auc=$(/usr/bin/python3 bench/sklearn_fit.py "$tr" "$te" Status bad 0 | awk '{ print $2 }')
  printf '%-28s assay %7.2f s %8.1f MiB | scikit-learn %7.2f s %8.1f MiB | time x%.1f, memory /%.1f | test AUC %.4f vs %.4f\n' \
    "$name" "$a_t" "$(echo "$a_m / 1024" | bc -l)" "$p_t" "$(echo "$p_m / 1024" | bc -l)" \
    "$(echo "$p_t / $a_t" | bc -l)" "$(echo "$p_m / $a_m" | bc -l)" "$a_auc" "$p_auc"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "date: $(date -u +%Y-%m-%d)  reps: $REPS (medians)"
run_case "credit_data (4,454), cv 5" examples/credit_data.csv 5
run_case "scale-up ($ROWS), holdout" "$BIG" 0

# CSV read throughput: assay's reader (bench_csv) against pandas.read_csv.
mb=$(echo "$(stat -c %s "$BIG") / 1048576" | bc -l)
a_s=$(./build/release/bench_csv "$BIG" "$REPS" | awk '{ print $1 }')
p_s=$(/usr/bin/python3 -c "
import sys, time, pandas as pd
ts = []
for _ in range($REPS):
    t = time.time(); pd.read_csv('$BIG'); ts.append(time.time() - t)
print(sorted(ts)[len(ts) // 2])")
printf 'CSV read (%.0f MB)            assay %.0f MB/s | pandas %.0f MB/s | x%.1f\n' "$mb" \
  "$(echo "$mb / $a_s" | bc -l)" "$(echo "$mb / $p_s" | bc -l)" "$(echo "$p_s / $a_s" | bc -l)"
