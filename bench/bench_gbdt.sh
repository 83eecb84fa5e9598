#!/usr/bin/env bash
# bench_gbdt.sh [ROWS] - assay's gradient-boosted trees against XGBoost 1.7 hist (2 threads),
# same trees, depth, learning rate and bins, in the same run.
#   quality: 5-fold CV (on all rows) over SEEDS fold seeds for both tools; the mean over seeds of
#            the CV mean ROC AUC (credit_data, mlc_churn) or RMSE (Chicago, target ridership).
#            The folds differ between the tools (each draws its own), hence several seeds.
#   speed:   wall time and peak RSS of one whole 5-fold CV run (median of REPS), and a fit on a
#            synthetic ROWS x 50 binary task (bench/make_synth.py; default 1,000,000 rows) with
#            a 100,000-row test file. Wall times include reading the CSV for both tools.
# Needs: make release; ASSAY_SETUP_PEERS=1 bash scripts/setup.sh (python3-xgboost, pandas, time, bc).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-1000000}
REPS=${REPS:-3}
SEEDS=${SEEDS:-"1 2 3"}
TREES=${TREES:-100} DEPTH=${DEPTH:-6} LR=${LR:-0.1} BINS=${BINS:-255}
ASSAY=./build/release/assay
P=/usr/bin/python3
[ -x "$ASSAY" ] || { echo "build first: make release" >&2; exit 1; }
export OMP_NUM_THREADS=2
GB="n_trees=$TREES,max_depth=$DEPTH,learning_rate=$LR,max_bins=$BINS"

measure() { local f; f=$(mktemp); /usr/bin/time -f "%e %M" -o "$f" "$@" > /dev/null 2>&1; cat "$f"; rm -f "$f"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mean() { awk '{ s += $1 } END { printf "%.5f", s / NR }'; }

quality() { # DATA TARGET TASK POS METRIC
  local data=$1 target=$2 task=$3 pos=$4 metric=$5 a=() x=()
  for s in $SEEDS; do
    a+=("$("$ASSAY" fit "$data" --target "$target" ${pos:+--positive "$pos"} --model gbdt --params "$GB" \
          --cv 5 --test-size 0 --seed "$s" --db none --threads 2 --json | jq -r ".metrics.cv.mean.$metric")")
    x+=("$($P bench/xgb_fit.py "$data" "$target" "$task" ${pos:+--positive "$pos"} --cv 5 --seed "$s" \
          --trees "$TREES" --depth "$DEPTH" --lr "$LR" --bins "$BINS" --threads 2 | tail -1 | sed 's/.*cv_mean=\([^ ]*\).*/\1/')")
  done
  printf '%s\n' "${a[@]}" | mean; echo -n " "; printf '%s\n' "${x[@]}" | mean; echo
}

speed() { # NAME -- ASSAY ARGS... -- PEER ARGS...
  local name=$1 at=() am=() pt=() pm=(); shift 2
  local acmd=() pcmd=()
  while [ "$1" != "--" ]; do acmd+=("$1"); shift; done; shift
  pcmd=("$@")
  for _ in $(seq "$REPS"); do
    read -r s m < <(measure "${acmd[@]}"); at+=("$s"); am+=("$m")
    read -r s m < <(measure "${pcmd[@]}"); pt+=("$s"); pm+=("$m")
  done
  local a_t a_m p_t p_m
  a_t=$(printf '%s\n' "${at[@]}" | median); a_m=$(printf '%s\n' "${am[@]}" | median)
  p_t=$(printf '%s\n' "${pt[@]}" | median); p_m=$(printf '%s\n' "${pm[@]}" | median)
  printf '%-34s assay %7.2f s %7.1f MiB | XGBoost %7.2f s %7.1f MiB | time x%.2f, memory /%.2f\n' \
    "$name" "$a_t" "$(echo "$a_m / 1024" | bc -l)" "$p_t" "$(echo "$p_m / 1024" | bc -l)" \
    "$(echo "$p_t / $a_t" | bc -l)" "$(echo "$p_m / $a_m" | bc -l)"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); date: $(date -u +%Y-%m-%d)"
echo "params: trees $TREES, depth $DEPTH, learning rate $LR, bins $BINS, 2 threads; seeds: $SEEDS; reps: $REPS"
CHURN=examples/mlc_churn.csv CHI=examples/Chicago.csv CREDIT=examples/credit_data.csv
read -r a x < <(quality "$CREDIT" Status binary bad roc_auc)
echo "credit_data 5-fold CV ROC AUC: assay $a  XGBoost $x  (difference $(echo "$a - $x" | bc -l | xargs printf '%+.4f'))"
read -r a x < <(quality "$CHURN" churn binary yes roc_auc)
echo "mlc_churn   5-fold CV ROC AUC: assay $a  XGBoost $x  (difference $(echo "$a - $x" | bc -l | xargs printf '%+.4f'))"
read -r a x < <(quality "$CHI" ridership regression "" rmse)
echo "Chicago     5-fold CV RMSE:    assay $a  XGBoost $x  (ratio $(echo "$a / $x" | bc -l | xargs printf '%.4f'))"

# --model auto (every candidate over its grid, on the same folds) against the better of
# scikit-learn's LogisticRegression and XGBoost (the settings above), same fold seeds.
auto_quality() { # DATA TARGET POS
  local data=$1 target=$2 pos=$3 a=() l=() x=()
  for s in $SEEDS; do
    a+=("$("$ASSAY" fit "$data" --target "$target" --positive "$pos" --model auto --cv 5 --test-size 0 \
          --seed "$s" --db none --threads 2 --json | jq -r '.metrics.cv.mean.roc_auc')")
    l+=("$($P bench/sklearn_cv.py "$data" "$target" binary --positive "$pos" --cv 5 --seed "$s" --threads 2 \
          | tail -1 | sed 's/.*cv_mean=\([^ ]*\).*/\1/')")
    x+=("$($P bench/xgb_fit.py "$data" "$target" binary --positive "$pos" --cv 5 --seed "$s" \
          --trees "$TREES" --depth "$DEPTH" --lr "$LR" --bins "$BINS" --threads 2 | tail -1 | sed 's/.*cv_mean=\([^ ]*\).*/\1/')")
  done
  echo "$(printf '%s\n' "${a[@]}" | mean) $(printf '%s\n' "${l[@]}" | mean) $(printf '%s\n' "${x[@]}" | mean)"
}
for spec in "$CREDIT Status bad credit_data" "$CHURN churn yes mlc_churn"; do
  set -- $spec
  read -r a l x < <(auto_quality "$1" "$2" "$3")
  best=$(echo "if ($l > $x) $l else $x" | bc -l)
  printf '%-11s --model auto 5-fold CV ROC AUC: assay %s  sklearn LR %s  XGBoost %s  (vs best %+.4f)\n' \
    "$4" "$a" "$l" "$x" "$(echo "$a - $best" | bc -l)"
done

speed "credit_data 5-fold CV" -- "$ASSAY" fit "$CREDIT" --target Status --positive bad --model gbdt --params "$GB" \
  --cv 5 --test-size 0 --db none --threads 2 -- $P bench/xgb_fit.py "$CREDIT" Status binary --positive bad --cv 5 \
  --trees "$TREES" --depth "$DEPTH" --lr "$LR" --bins "$BINS" --threads 2
speed "mlc_churn 5-fold CV" -- "$ASSAY" fit "$CHURN" --target churn --positive yes --model gbdt --params "$GB" \
  --cv 5 --test-size 0 --db none --threads 2 -- $P bench/xgb_fit.py "$CHURN" churn binary --positive yes --cv 5 \
  --trees "$TREES" --depth "$DEPTH" --lr "$LR" --bins "$BINS" --threads 2
TR=/tmp/assay_bench_synth_${ROWS}.csv TE=/tmp/assay_bench_synth_test.csv
[ -s "$TR" ] || $P bench/make_synth.py "$ROWS" 50 "$TR"
[ -s "$TE" ] || $P bench/make_synth.py 100000 50 "$TE" --seed 7
speed "synthetic $ROWS x 50, fit + test" -- "$ASSAY" fit "$TR" --target y --model gbdt --params "$GB" --test "$TE" \
  --cv 0 --no-dedup --db none --threads 2 -- $P bench/xgb_fit.py "$TR" y binary --test "$TE" \
  --trees "$TREES" --depth "$DEPTH" --lr "$LR" --bins "$BINS" --threads 2
a=$("$ASSAY" fit "$TR" --target y --model gbdt --params "$GB" --test "$TE" --cv 0 --no-dedup --db none --threads 2 --json | jq -r .metrics.test.roc_auc)
x=$($P bench/xgb_fit.py "$TR" y binary --test "$TE" --trees "$TREES" --depth "$DEPTH" --lr "$LR" --bins "$BINS" --threads 2 | tail -1 | sed 's/.*test=\([^ ]*\).*/\1/')
echo "synthetic test ROC AUC: assay $a  XGBoost $x"
