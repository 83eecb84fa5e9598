#!/usr/bin/env bash
# test_cv.sh ASSAY SRC - assay cv and assay tune end to end: the CV table equals fit's on the same
# folds, grouped folds keep each group in one fold (fewer groups than folds refused), the tune
# grid is the full product and picks the best mean, random draws repeat with the seed, every
# setting is recorded in the store; the refusals.
source "$(dirname "$0")/lib.sh"
CREDIT="$SRC/examples/credit_data.csv" CHURN="$SRC/examples/mlc_churn.csv"

"$ASSAY" cv "$CREDIT" --target Status --positive bad --model logreg --folds 4 --db runs.db --json > cv.json
check "cv: exits 0" test $? -eq 0
check "cv: 4 folds" test "$(jqv .cv.folds cv.json)" -eq 4
auc=$(jqv .cv.mean.roc_auc cv.json)
check "cv: AUC $auc in (0.8, 0.9)" awk -v a="$auc" 'BEGIN { exit !(a > 0.8 && a < 0.9) }'
"$ASSAY" fit "$CREDIT" --target Status --positive bad --model logreg --cv 4 --test-size 0 --db none \
  --out f.assay --json > fit.json
check "cv: the same folds and numbers as fit --cv" near "$auc" "$(jqv .metrics.cv.mean.roc_auc fit.json)" 1e-12
check "cv: recorded in the store" test "$("$ASSAY" runs --db runs.db --json | jq '[.[] | select(.command == "cv")] | length')" -eq 1
check "cv: no model file written" test ! -e credit_data.assay

"$ASSAY" cv "$CHURN" --target churn --positive yes --model logreg --group state --db none --json > g.json
check "grouped cv: split reported" test "$(jqv .split g.json)" = grouped
check "grouped cv: an AUC" gt "$(jqv .cv.mean.roc_auc g.json)" 0.7

"$ASSAY" tune "$CREDIT" --target Status --positive bad --model gbdt --folds 3 \
  --grid "learning_rate=0.05,0.1;max_depth=3,6" --db runs.db --json > t.json
check "tune: 4 settings" test "$(jq '.leaderboard | length' t.json)" -eq 4
check "tune: every product setting" test "$(jq -r '[.leaderboard[].params] | sort | join(";")' t.json)" = \
  "learning_rate=0.05,max_depth=3;learning_rate=0.05,max_depth=6;learning_rate=0.1,max_depth=3;learning_rate=0.1,max_depth=6"
check "tune: the best mean wins" test "$(jq '[.leaderboard[].mean] | max' t.json)" = "$(jq '.leaderboard[0].mean' t.json)"
check "tune: the winner is reported" test "$(jq -r '.leaderboard[0].params' t.json)" = "$(jqv .params t.json)"
check "tune: every setting recorded" test "$("$ASSAY" runs --db runs.db --json | jq '[.[] | select(.command == "tune-candidate")] | length')" -eq 4
for s in 1 1 2; do
  "$ASSAY" tune "$CREDIT" --target Status --model gbdt --folds 2 --random 3 --seed $s \
    --grid "learning_rate=log:0.01:0.3;max_depth=2:8;n_trees=20" --db none --json | jq -r '[.leaderboard[].params] | sort | join(";")' > r$s.txt
done
check "tune --random: same seed, same draws" cmp r1.txt <(head -1 r1.txt)
"$ASSAY" tune "$CREDIT" --target Status --model gbdt --folds 2 --random 3 --seed 1 \
  --grid "learning_rate=log:0.01:0.3;max_depth=2:8;n_trees=20" --db none --json | jq -r '[.leaderboard[].params] | sort | join(";")' > r1b.txt
check "tune --random: repeatable" cmp r1.txt r1b.txt
check "tune --random: another seed, other draws" test "$(cat r1.txt)" != "$(cat r2.txt)"
check "tune --random: integer ranges drawn as integers" grep -qE "max_depth=[2-8](;|,|$)" r1.txt

expect_error "tune without a grid" "give --model NAME and --grid" "$ASSAY" tune "$CREDIT" --target Status --model gbdt --db none
expect_error "a range without --random" "ranges go with --random" "$ASSAY" tune "$CREDIT" --target Status --model gbdt --grid "max_depth=2:8" --db none
expect_error "unknown parameter in the grid" "no parameter 'depth'" "$ASSAY" tune "$CREDIT" --target Status --model gbdt --grid "depth=3,6" --folds 2 --db none
expect_error "group and time column" "exclude each other" "$ASSAY" cv "$CREDIT" --target Status --group Home --time-column Age --db none
expect_error "unknown group column" "--group: no column 'Shop'" "$ASSAY" cv "$CREDIT" --target Status --model logreg --group Shop --db none
expect_error "fewer groups than folds" "groups, fewer than the 10 folds" "$ASSAY" cv "$CREDIT" --target Status --model logreg --group Records --folds 10 --db none
expect_error "grid on fit" "options of assay tune" "$ASSAY" fit "$CREDIT" --target Status --grid "C=1,2" --db none
finish
