#!/usr/bin/env bash
# bench_tfidf.sh - TF-IDF + logistic regression: `assay fit --model logreg` against the
# scikit-learn pipeline (bench/sklearn_text.py) on the same text table, same run: whole-process
# wall time and peak memory (medians of REPS runs), test accuracy. Both: TF-IDF of word 1-2
# grams, min_df 2, sublinear tf, l2 rows; logistic regression C=10; no CV; the model saved.
# MODEL=ridge instead: ridge regression (alpha 1) of the 0/1 column great (score == great) on the
# same features, against scikit-learn's Ridge (test RMSE and R2 instead of accuracy).
# Data: examples/fine_foods (4,000 / 1,000 reviews) and a scale-up of SCALE x its training rows
# (each copy's reviews with 10% of the words dropped at random, so the vocabulary grows) against
# the same test file.
# Needs: make release; ASSAY_SETUP_PEERS=1 bash scripts/setup.sh (pandas, scikit-learn).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
MODEL=${MODEL:-logreg}
SCALE=${SCALE:-25}
ASSAY=${ASSAY:-./build/release/assay}
[ -x "$ASSAY" ] || { echo "build first: make release" >&2; exit 1; }
TEST=examples/fine_foods_test.csv
BIG=/tmp/assay_bench_fine_foods_x${SCALE}.csv
if [ "$MODEL" = ridge ]; then # the same tables with a numeric target: great = 1, other = 0
  with_great() { awk -v FS='"' -v OFS='"' '{ sub(/\r$/, "") } NR == 1 { print $0 ",\"great\""; next } { print $0 "," ($(NF - 1) == "great") }' "$1" > "$2"; }
fi
[ -s "$BIG" ] || /usr/bin/python3 - "$SCALE" "$BIG" <<'PY'
import csv, random, sys
n, out = int(sys.argv[1]), sys.argv[2]
rows = list(csv.DictReader(open("examples/fine_foods_train.csv", newline="", encoding="utf-8")))
rng = random.Random(7)
with open(out, "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f, quoting=csv.QUOTE_ALL)
    w.writerow(["product", "review", "score"])
    for c in range(n):
        for r in rows:
            words = [x for x in r["review"].split() if c == 0 or rng.random() >= 0.1]
            w.writerow([r["product"] + "-%d" % c, " ".join(words), r["score"]])
PY

measure() { # CMD... -> "seconds peak_kib" of one run
  local f; f=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$f" "$@" > /dev/null 2>&1
  cat "$f"; rm -f "$f"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

run_case() { # NAME TRAIN
  local name=$1 tr=$2 te=$TEST at=() am=() pt=() pm=()
  local args=(--target score --model logreg --params C=10 --threshold 0.5)
  if [ "$MODEL" = ridge ]; then
    with_great "$tr" /tmp/assay_bench_ridge_train.csv; with_great "$TEST" /tmp/assay_bench_ridge_test.csv
    tr=/tmp/assay_bench_ridge_train.csv te=/tmp/assay_bench_ridge_test.csv
    args=(--target great --task regression --model ridge --params alpha=1 --exclude score)
  fi
  for _ in $(seq "$REPS"); do
    read -r s m < <(measure "$ASSAY" fit "$tr" --test "$te" "${args[@]}" --cv 0 --db none --quiet \
      --out /tmp/assay_bench_text.assay)
    at+=("$s"); am+=("$m")
    read -r s m < <(measure /usr/bin/python3 bench/sklearn_text.py "$tr" "$te" "$MODEL")
    pt+=("$s"); pm+=("$m")
  done
  local a_t a_m p_t p_m a_acc p_out
  a_t=$(printf '%s\n' "${at[@]}" | median); a_m=$(printf '%s\n' "${am[@]}" | median)
  p_t=$(printf '%s\n' "${pt[@]}" | median); p_m=$(printf '%s\n' "${pm[@]}" | median)
  a_acc=$("$ASSAY" fit "$tr" --test "$te" "${args[@]}" --cv 0 --db none --quiet --out /tmp/assay_bench_text.assay \
          --json | jq -r 'if .task == "regression" then "rmse \(.metrics.test.rmse) r2 \(.metrics.test.r2)" else
                          "accuracy \(.metrics.test.accuracy)" end + " features \(.features)"')
  p_out=$(/usr/bin/python3 bench/sklearn_text.py "$tr" "$te" "$MODEL")
  printf '%-30s assay %7.2f s %8.1f MiB | scikit-learn %7.2f s %8.1f MiB | time x%.2f, memory /%.2f\n' \
    "$name" "$a_t" "$(echo "$a_m / 1024" | bc -l)" "$p_t" "$(echo "$p_m / 1024" | bc -l)" \
    "$(echo "$p_t / $a_t" | bc -l)" "$(echo "$p_m / $a_m" | bc -l)"
  printf '%-30s assay: %s | scikit-learn: %s\n' "" "$a_acc" "$p_out"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "date: $(date -u +%Y-%m-%d)  reps: $REPS (medians)"
run_case "fine_foods (4,000 reviews)" examples/fine_foods_train.csv
run_case "fine_foods x$SCALE ($((SCALE * 4000)) reviews)" "$BIG"
