#!/usr/bin/env bash
# test_fit.sh ASSAY SRC - the main job end to end on the bundled data: fit (JSON contract),
# predict in a new process reproduces the fit-time predictions exactly (columns reordered, extra
# columns), eval agrees with fit, the store records runs and model versions, regression and
# multiclass work, the same seed gives the same model file.
source "$(dirname "$0")/lib.sh"

# -- binary: credit_data --------------------------------------------------------------------
"$ASSAY" fit "$SRC/examples/credit_data.csv" --target Status --positive bad --model logreg \
  --out credit.assay --json > fit.json
check "fit exits 0" test $? -eq 0
check "fit: task binary" test "$(jqv .task fit.json)" = binary
check "fit: model logreg" test "$(jqv .model fit.json)" = logreg
check "fit: model file exists" test -s credit.assay
check "fit: model_path absolute" test "$(jqv .model_path fit.json)" = "$WORK/credit.assay"
auc=$(jqv .metrics.test.roc_auc fit.json)
check "fit: test ROC AUC $auc > 0.78" gt "$auc" 0.78
for m in accuracy f1_macro log_loss roc_auc; do
  v=$(jqv ".metrics.test.$m" fit.json)
  check "fit: metrics.test.$m present ($v)" test "$v" != null
  v=$(jqv ".metrics.cv.mean.$m" fit.json)
  check "fit: metrics.cv.mean.$m present ($v)" test "$v" != null
  v=$(jqv ".metrics.cv.sd.$m" fit.json)
  check "fit: metrics.cv.sd.$m present ($v)" test "$v" != null
done
cvauc=$(jqv .metrics.cv.mean.roc_auc fit.json)
check "fit: CV AUC $cvauc near test AUC $auc" near "$cvauc" "$auc" 0.05
check "fit: registered version 1" test "$(jqv .registry.version fit.json)" = 1

# Same seed, same data: the same model file, byte for byte.
"$ASSAY" fit "$SRC/examples/credit_data.csv" --target Status --positive bad --model logreg --out credit2.assay --json > fit2.json
check "fit twice: identical model files" cmp -s credit.assay credit2.assay
check "fit twice: credit2 registered as version 1" test "$(jqv .registry.version fit2.json)" = 1
"$ASSAY" fit "$SRC/examples/credit_data.csv" --target Status --positive bad --out credit.assay --json > fit3.json
check "refit same name: version 2" test "$(jqv .registry.version fit3.json)" = 2

# -- predict reproduces fit-time predictions, in a new process --------------------------------
head -n 3501 "$SRC/examples/credit_data.csv" > train.csv
{ head -n 1 "$SRC/examples/credit_data.csv"; tail -n +3502 "$SRC/examples/credit_data.csv"; } > test.csv
"$ASSAY" fit train.csv --target Status --positive bad --test test.csv --predictions fitpred.csv \
  --out m.assay --json > fit4.json
check "fit with --test" test $? -eq 0
check "fit: predictions file written" test -s fitpred.csv
"$ASSAY" predict m.assay test.csv --proba --out pred.csv
check "predict exits 0" test $? -eq 0
check "predict reproduces fit-time predictions exactly" cmp -s fitpred.csv pred.csv
# Columns in another order, an extra column, the target dropped: same predictions.
awk -F, 'BEGIN { OFS = "," } { print $14, $2, "extra" NR, $13, $12, $11, $10, $9, $8, $7, $6, $5, $4, $3 }' \
  test.csv > shuffled.csv
"$ASSAY" predict m.assay shuffled.csv --proba --out pred2.csv
check "predict: reordered columns and extra column give the same predictions" cmp -s fitpred.csv pred2.csv
check "predict: one row per input row" test "$(($(wc -l < pred.csv) - 1))" = "$(($(wc -l < test.csv) - 1))"
check "predict: header names target and probabilities" test "$(head -n 1 pred.csv)" = "Status,proba_good,proba_bad"
"$ASSAY" predict m.assay test.csv --json > pred.json
check "predict --json: one prediction per row" test "$(jq '.predictions | length' pred.json)" = "$(($(wc -l < test.csv) - 1))"

# eval agrees with fit's test metrics.
"$ASSAY" eval m.assay test.csv --json > eval.json
check "eval exits 0" test $? -eq 0
check "eval ROC AUC equals fit's" test "$(jqv .metrics.roc_auc eval.json)" = "$(jqv .metrics.test.roc_auc fit4.json)"
"$ASSAY" eval m.assay test.csv > eval.txt
check "eval text has the classification report" grep -q "weighted avg" eval.txt

# -- the store ------------------------------------------------------------------------------
"$ASSAY" runs --json > runs.json
check "runs: at least 7 recorded" test "$(jq length runs.json)" -ge 7
check "runs: newest is eval" test "$(jq -r '.[0].command' runs.json)" = eval
"$ASSAY" models --json > models.json
check "models: credit has versions 1 and 2" test "$(jq '[.[] | select(.name == "credit")] | length' models.json)" = 2
"$ASSAY" runs > runs.txt
check "runs: text table" grep -q "fit" runs.txt
"$ASSAY" models > models.txt
check "models: text table" grep -q "credit" models.txt

# -- churn (binary), Chicago (regression with a date column), multiclass ---------------------
"$ASSAY" fit "$SRC/examples/mlc_churn.csv" --target churn --positive yes --json --db none > churn.json
check "churn: fit exits 0" test $? -eq 0
auc=$(jqv .metrics.test.roc_auc churn.json)
check "churn: test ROC AUC $auc > 0.75" gt "$auc" 0.75
"$ASSAY" fit "$SRC/examples/Chicago.csv" --target ridership --model ridge --json --db none > chicago.json
check "chicago: fit exits 0" test $? -eq 0
check "chicago: task regression" test "$(jqv .task chicago.json)" = regression
r2=$(jqv .metrics.test.r2 chicago.json)
check "chicago: test R2 $r2 > 0.7" gt "$r2" 0.7
check "chicago: cv rmse present" test "$(jqv .metrics.cv.mean.rmse chicago.json)" != null
"$ASSAY" fit "$SRC/examples/credit_data.csv" --target Home --model logreg --json --db none --out home.assay > home.json
check "multiclass: task" test "$(jqv .task home.json)" = multiclass
check "multiclass: accuracy present" test "$(jqv .metrics.test.accuracy home.json)" != null
check "multiclass: the rows without a Home are dropped and counted" test "$(jqv .data.unlabeled_rows home.json)" = \
  "$(awk -F, 'NR > 1 && $3 == ""' "$SRC/examples/credit_data.csv" | wc -l)"
# predict --top-k: the K most probable classes, highest first; --min-proba leaves cells empty
"$ASSAY" predict home.assay "$SRC/examples/credit_data.csv" --proba --top-k 2 --db none --out top.csv
check "top-k: header" test "$(head -1 top.csv | cut -d, -f2-)" = "proba_ignore,proba_other,proba_owner,proba_parents,proba_priv,proba_rent,top1,proba1,top2,proba2"
bad=$(awk -F, 'NR > 1 { m = 2; for (k = 3; k <= 7; k++) if ($k > $m) m = k
  if ($8 != $1 || $9 != $m || $9 < $11) n++ } END { print n + 0 }' top.csv)
check "top-k: top1 is the prediction with the largest probability, proba1 >= proba2 ($bad rows not)" test "$bad" = 0
"$ASSAY" predict home.assay "$SRC/examples/credit_data.csv" --top-k 3 --min-proba 0.3 --db none --out topm.csv
e=$(awk -F, 'NR > 1 && $5 == "" { n++ } NR > 1 && $4 != "" && $4 < 0.3 { b++ } END { print n + 0, b + 0 }' topm.csv)
check "top-k --min-proba 0.3: some rows without a second class, none below 0.3 ($e)" test "${e#* }" = 0 -a "${e% *}" -gt 0
"$ASSAY" predict home.assay "$SRC/examples/credit_data.csv" --top-k 9 --json --db none > top.json
check "top-k JSON: K clipped to the 6 classes, the first equals the prediction" \
  test "$(jq -r '"\(.top[0] | length) \(.top[0][0].label == .predictions[0])"' top.json)" = "6 true"
expect_error "--min-proba without --top-k" "--min-proba goes with --top-k" \
  "$ASSAY" predict home.assay "$SRC/examples/credit_data.csv" --min-proba 0.5 --db none
expect_error "--top-k on a regression model" "--top-k applies to classification" \
  "$ASSAY" predict Chicago.assay "$SRC/examples/Chicago.csv" --top-k 2 --db none

# -- profile ----------------------------------------------------------------------------------
"$ASSAY" profile "$SRC/examples/credit_data.csv" --target Status --json > profile.json
check "profile exits 0" test $? -eq 0
check "profile: 4454 rows" test "$(jqv .rows profile.json)" = 4454
check "profile: Income is numeric" test "$(jq -r '.columns_detail[] | select(.name == "Income") | .type' profile.json)" = numeric
check "profile: Income has missing values" gt "$(jq -r '.columns_detail[] | select(.name == "Income") | .missing' profile.json)" 0
check "profile: target balance" test "$(jq '.target.classes | length' profile.json)" = 2
"$ASSAY" profile "$SRC/examples/credit_data.csv" > profile.txt
check "profile: text output" grep -q "Income" profile.txt

finish
