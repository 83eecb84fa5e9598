#!/usr/bin/env bash
# test_gbdt.sh ASSAY SRC - gradient-boosted trees and --model auto end to end: the leaderboard
# (JSON and store), the selected model refit and saved, predict --explain (contributions plus
# bias equal the margin of the predicted probability), monotone and early-stopping options and
# their refusals, native missing values and categories on mlc_churn, regression on Chicago.
source "$(dirname "$0")/lib.sh"
CREDIT="$SRC/examples/credit_data.csv"

# -- --model auto (the default) ---------------------------------------------------------------
"$ASSAY" fit "$CREDIT" --target Status --positive bad --out auto.assay --db runs.db --json > auto.json
check "auto: exits 0" test $? -eq 0
n=$(jq '.selection.leaderboard | length' auto.json)
check "auto: leaderboard has $n >= 6 candidates" test "$n" -ge 6
check "auto: both families tried" test "$(jq -r '[.selection.leaderboard[].model] | unique | join(",")' auto.json)" = "gbdt,logreg,mlp"
check "auto: metric roc_auc" test "$(jqv .selection.metric auto.json)" = roc_auc
sel=$(jq -r '.selection.leaderboard[] | select(.selected) | .model' auto.json)
check "auto: selected model ($sel) is the saved model" test "$sel" = "$(jqv .model auto.json)"
top=$(jq -r '.selection.leaderboard[0].mean' auto.json)
best=$(jq -r '[.selection.leaderboard[].mean] | max' auto.json)
check "auto: leaderboard sorted, winner has the best CV AUC ($top)" test "$top" = "$best"
check "auto: CV of the final model is the winner's" near "$(jqv .metrics.cv.mean.roc_auc auto.json)" "$top" 1e-12
cands=$(sqlite3 runs.db "select count(*) from runs where command = 'fit-candidate'" 2>/dev/null || \
        "$ASSAY" runs --db runs.db --json | jq '[.[] | select(.command == "fit-candidate")] | length')
check "auto: every candidate recorded in the store ($cands)" test "$cands" = "$n"
auc=$(jqv .metrics.test.roc_auc auto.json)
check "auto: test AUC $auc > 0.80" gt "$auc" 0.80
expect_error "auto with --params" "named --model" "$ASSAY" fit "$CREDIT" --target Status --params C=1 --db none
expect_error "auto without CV" "cross-validation" "$ASSAY" fit "$CREDIT" --target Status --cv 0 --db none

# -- gbdt, explanations -------------------------------------------------------------------------
"$ASSAY" fit "$CREDIT" --target Status --positive bad --model gbdt --cv 0 --out g.assay --db none --quiet > /dev/null
check "gbdt: model written" test -s g.assay
check "gbdt: importance listed" test "$("$ASSAY" fit "$CREDIT" --target Status --model gbdt --cv 0 --out g2.assay --db none --json | jq '.importance | length')" -eq 13
"$ASSAY" predict g.assay "$CREDIT" --explain=13 --proba --json --db none > ex.json
check "explain: one explanation per row" test "$(jq '.explanations | length' ex.json)" -eq 4454
# bias + all contributions = logit(p_bad) for every row
bad_rows=$(jq '[range(0; .rows) as $i | .probabilities[$i][1] as $p
   | (.explanations[$i] | .bias + ([.top[].contribution] | add // 0)) as $m
   | ($m - (($p / (1 - $p)) | log)) | fabs | select(. > 1e-6)] | length' ex.json)
check "explain: contributions sum to the log-odds on every row ($bad_rows off)" test "$bad_rows" -eq 0
"$ASSAY" predict g.assay "$CREDIT" --explain --db none > ex.csv
check "explain: CSV column" test "$(head -1 ex.csv)" = "Status,explanation"
check "explain: three contributions per row" test "$(sed -n 2p ex.csv | tr ';' '\n' | wc -l)" -eq 3
"$ASSAY" fit "$CREDIT" --target Status --model logreg --cv 0 --out lr.assay --db none --quiet > /dev/null
expect_error "explain on logreg" "explanations" "$ASSAY" predict lr.assay "$CREDIT" --explain --db none

# -- monotone constraints and early stopping ------------------------------------------------------
"$ASSAY" fit "$CREDIT" --target Status --positive bad --model gbdt --monotone Income:-1,Seniority:-1 \
  --cv 0 --out mono.assay --db none --quiet > /dev/null
check "monotone: fit" test -s mono.assay
# raising Income never raises P(bad): predict the same rows with Income + 500
awk -F, 'NR == 1 { print; next } { if ($10 != "") $10 = $10 + 500; print }' OFS=, "$CREDIT" > richer.csv
"$ASSAY" predict mono.assay "$CREDIT" --proba --json --db none | jq '[.probabilities[][1]]' > p0.json
"$ASSAY" predict mono.assay richer.csv --proba --json --db none | jq '[.probabilities[][1]]' > p1.json
up=$(jq -n --slurpfile a p0.json --slurpfile b p1.json '[range(0; $a[0] | length) | select($b[0][.] > $a[0][.] + 1e-12)] | length')
check "monotone: no row's P(bad) rises with Income ($up do)" test "$up" -eq 0
expect_error "monotone on a categorical column" "categorical" "$ASSAY" fit "$CREDIT" --target Status --model gbdt --monotone Home:+1 --cv 0 --db none
expect_error "monotone unknown column" "no numeric feature 'Incme'" "$ASSAY" fit "$CREDIT" --target Status --model gbdt --monotone Incme:+1 --cv 0 --db none
expect_error "monotone bad sign" "COLUMN:\+1" "$ASSAY" fit "$CREDIT" --target Status --model gbdt --monotone Income:up --cv 0 --db none
expect_error "monotone on logreg" "monotone" "$ASSAY" fit "$CREDIT" --target Status --model logreg --monotone Income:+1 --cv 0 --db none
"$ASSAY" fit "$CREDIT" --target Status --model gbdt --params n_trees=2000,learning_rate=0.3 --early-stopping 10 \
  --cv 0 --out es.assay --db none --json > es.json
check "early stopping: fit" test -s es.assay
expect_error "early stopping on logreg" "stop early" "$ASSAY" fit "$CREDIT" --target Status --model logreg --early-stopping 5 --db none

# -- other data: churn (categorical state), Chicago (regression) -----------------------------
"$ASSAY" fit "$SRC/examples/mlc_churn.csv" --target churn --positive yes --model gbdt --db none --json > churn.json
cauc=$(jqv .metrics.cv.mean.roc_auc churn.json)
check "churn: gbdt CV AUC $cauc > 0.90" gt "$cauc" 0.90
"$ASSAY" fit "$SRC/examples/Chicago.csv" --target ridership --model gbdt --db none --json > chi.json
r2=$(jqv .metrics.test.r2 chi.json)
check "Chicago: gbdt test R^2 $r2 > 0.9" gt "$r2" 0.9
finish
