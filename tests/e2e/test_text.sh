#!/usr/bin/env bash
# test_text.sh ASSAY SRC - text columns end to end on the fine foods reviews: the review column
# is typed text and becomes TF-IDF features (the product id column is recognised as an id and
# left out), logistic regression trains on the sparse design, the saved model predicts the raw
# test file identically to fit's own test predictions, assay serve answers raw review text,
# --model auto keeps only candidates that take sparse designs and reaches 0.82 test accuracy
# with an ensemble and a CV-chosen threshold, and the refusals; multilabel tickets (fastText lines
# with several labels) through textclf's sigmoids and a one-vs-rest logreg: fit, predict, eval,
# serve and the refusals; ridge regression on a text column.
source "$(dirname "$0")/lib.sh"
TRAIN="$SRC/examples/fine_foods_train.csv" TEST="$SRC/examples/fine_foods_test.csv"
start_server() { # LOGFILE MODEL: assay serve on a free port; sets PID and URL
  "$ASSAY" serve "$2" --port 0 --db none 2> "$1" &
  PID=$!
  for _ in $(seq 1 200); do grep -q "listening on" "$1" && break; sleep 0.05; done
  URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$1")
}

"$ASSAY" fit "$TRAIN" --target score --test "$TEST" --model logreg --params C=10 --out ff.assay \
  --predictions fitpred.csv --db none --json > ff.json
check "fit on text: exits 0" test $? -eq 0
acc=$(jqv .metrics.test.accuracy ff.json)
check "test accuracy $acc >= 0.79" awk -v a="$acc" 'BEGIN { exit !(a >= 0.79) }'
check "the review column gives thousands of features ($(jqv .features ff.json))" test "$(jqv .features ff.json)" -gt 10000
check "product is left out as an identifier" test \
  "$(jq -r '.prep.columns[] | select(.name == "product") | .skip_reason' ff.json)" = "an identifier (every value distinct)"
"$ASSAY" predict ff.assay "$TEST" --proba --out pred.csv --db none
check "predict on the raw test file = fit's test predictions" cmp -s pred.csv fitpred.csv
# the same reviews through assay serve
start_server serve.log ff.assay
printf '{"instances":[{"product":"B000","review":"Delicious, my kids love it. Great price too!"},{"product":"B001","review":"Stale and tasteless. I threw it away &amp; asked for a refund."}]}' > two.json
code=$(curl -s -o resp.json -w '%{http_code}' -d @two.json "$URL/v1/models/ff:predict")
check "serve: 200 on raw review text" test "$code" = 200
check "serve: a glowing review is great, a complaint is other" test "$(jq -r '.predictions | join(",")' resp.json)" = "great,other"
check "serve: a review that is a number is a 400" test \
  "$(curl -s -o /dev/null -w '%{http_code}' -d '{"instances":[{"product":"x","review":5}]}' "$URL/v1/models/ff:predict")" = 400
kill -TERM "$PID"; wait "$PID"
# --model auto, the issue's command: only models that take sparse designs are candidates, naive
# Bayes and NB-LR among them; an ensemble of them with a CV-chosen decision threshold reaches the
# 0.82 test accuracy aimed at (scikit-learn's TF-IDF + LogisticRegression: 0.811).
"$ASSAY" fit "$TRAIN" --target score --test "$TEST" --db none --out auto.assay \
  --predictions autopred.csv --json > auto.json
check "auto: exits 0" test $? -eq 0
cands=$(jq -r '[.selection.leaderboard[].model] | unique | join(",")' auto.json)
check "auto: logreg, nb and nblr are candidates ($cands)" \
  test "$(tr , '\n' <<< "$cands" | grep -cxE 'logreg|nb|nblr')" -eq 3
check "auto: no dense-only model is a candidate ($cands)" \
  test -z "$(tr , '\n' <<< "$cands" | grep -vxE 'logreg|nb|nblr|textclf|ensemble')"
check "auto: an ensemble is selected ($(jqv .params auto.json))" test "$(jqv .model auto.json)" = ensemble
thr=$(jqv .decision_threshold.threshold auto.json)
check "auto: the decision threshold $thr was chosen on CV" \
  test "$(jqv .decision_threshold.chosen auto.json)" = cv
acc=$(jqv .metrics.test.accuracy auto.json)
check "auto: test accuracy $acc >= 0.82" awk -v a="$acc" 'BEGIN { exit !(a >= 0.82) }'
"$ASSAY" predict auto.assay "$TEST" --proba --out autopred2.csv --db none
check "auto: the saved ensemble predicts the test file as fit did" cmp -s autopred.csv autopred2.csv
"$ASSAY" fit "$TRAIN" --target score --model logreg --threshold 0.3 --cv 0 --test "$TEST" --db none \
  --out thr.assay --json > thr.json
check "--threshold 0.3 is saved and reported" test "$(jqv .decision_threshold.threshold thr.json)" = 0.3
expect_error "--threshold with --value" "give one" "$ASSAY" fit "$TRAIN" --target score --threshold 0.4 \
  --value "tp=1,fp=-1,fn=0,tn=0" --db none
expect_error "--threshold on a regression" "applies to binary targets" "$ASSAY" fit "$SRC/examples/credit_data.csv" \
  --target Amount --threshold 0.4 --cv 0 --model ridge --db none
expect_error "--threshold 1.5" "--threshold: expected a number" "$ASSAY" fit "$TRAIN" --target score --threshold 1.5 --db none
# text beside a numeric column: the models that need non-negative features are listed as not
# applicable and auto goes on with the others
head -401 "$TRAIN" | awk 'NR == 1 { print $0 ",\"price\""; next } { printf "%s,%d.5\n", $0, NR % 17 }' > mixed.csv
"$ASSAY" fit mixed.csv --target score --cv 3 --db none --out mixed.assay > mixed.out 2>&1
check "mixed table: auto exits 0" test $? -eq 0
check "mixed table: nb, nblr and textclf are listed as not applicable" \
  test "$(grep -E '^  -  +(nb|nblr|textclf) ' mixed.out | grep -c 'needs non-negative features')" -eq 7
# the fastText format: "__label__X text" lines read as columns text and label
FT="$SRC/tests/e2e/data/fine_foods_ft_train.txt" FTT="$SRC/tests/e2e/data/fine_foods_ft_test.txt"
"$ASSAY" fit "$FT" --target label --test "$FTT" --model nblr --cv 0 --db none --out ft.assay --json > ft.json
check "fastText format: fit exits 0" test $? -eq 0
check "fastText format: the text column gives features ($(jqv .features ft.json))" test "$(jqv .features ft.json)" -gt 1000
acc=$(jqv .metrics.test.accuracy ft.json)
check "fastText format: test accuracy $acc >= 0.68 (the majority class: 0.62)" awk -v a="$acc" 'BEGIN { exit !(a >= 0.68) }'
"$ASSAY" predict ft.assay "$FTT" --db none --out ftpred.csv
check "fastText format: predict gives a label per test line" test "$(tail -n +2 ftpred.csv | wc -l)" -eq 100
{ cat "$FT"; printf '__label__great caf\xe9 au lait \xff good\n'; } > ft_bad.txt
"$ASSAY" fit ft_bad.txt --target label --model nb --cv 0 --db none --out ftb.assay > ftb.out 2> ftb.err
check "fastText format: invalid UTF-8 is replaced and counted ($(cat ftb.err))" grep -q "2 invalid UTF-8 bytes replaced" ftb.err
# options and refusals
"$ASSAY" fit "$TRAIN" --target score --model logreg --cv 0 --text-ngrams 1,1 --text-max-features 500 \
  --stop-words english --db none --out small.assay --json > small.json
check "--text-max-features 500 --text-ngrams 1,1: 500 features" test "$(jqv .features small.json)" -eq 500
expect_error "gbdt on text" "needs dense features, and text columns give sparse ones" \
  "$ASSAY" fit "$TRAIN" --target score --model gbdt --cv 0 --db none
expect_error "bad --text-ngrams" "--text-ngrams: expected A,B" "$ASSAY" fit "$TRAIN" --target score --text-ngrams 3,1 --db none
expect_error "bad --stop-words" "only 'english'" "$ASSAY" fit "$TRAIN" --target score --stop-words french --db none
# --autotune-time: textclf's defaults first, then random settings, for a time budget
head -1201 "$TRAIN" > small.csv
# (400 rows and 3 s, so that a slow or sanitized build still reaches random settings)
head -401 "$TRAIN" > tiny.csv
"$ASSAY" fit tiny.csv --target score --model textclf --autotune-time 3 --cv 3 --db none --out tune.assay --json > tune.json
check "autotune: exits 0" test $? -eq 0
check "autotune: the defaults and at least one random setting were cross-validated" \
  test "$(jq '[.selection.leaderboard[] | select(.ran)] | length >= 2 and any(.params == "")' tune.json)" = true
check "autotune: the model keeps the best setting" \
  test "$(jq -r '(.selection.leaderboard[] | select(.selected) | .params) == .params' tune.json)" = true
check "autotune: the best has the highest CV AUC" \
  test "$(jq '(.selection.leaderboard | map(select(.ran) | .mean) | max) == (.selection.leaderboard[] | select(.selected) | .mean)' tune.json)" = true
check "autotune: word n-grams are searched with the other settings" \
  test "$(jq '[.selection.leaderboard[] | select(.params | test("ngrams=[123]"))] | length > 0' tune.json)" = true
"$ASSAY" fit small.csv --target score --model textclf --params ngrams=1 --cv 0 --db none --json > ng1.json
"$ASSAY" fit small.csv --target score --model textclf --params ngrams=3 --cv 0 --db none --json > ng3.json
check "textclf ngrams=3 has more features than ngrams=1 ($(jqv .features ng1.json) -> $(jqv .features ng3.json))" \
  test "$(jqv .features ng3.json)" -gt "$(jqv .features ng1.json)"
expect_error "textclf ngrams out of range" "ngrams must be an integer in \\[1, 5\\]" \
  "$ASSAY" fit small.csv --target score --model textclf --params ngrams=9 --cv 0 --db none
expect_error "autotune with another model" "--autotune-time searches textclf's settings" \
  "$ASSAY" fit small.csv --target score --model logreg --autotune-time 2 --db none

# --- text regression: ridge on the sparse TF-IDF design (conjugate gradients) -----------------
# a numeric target read from the reviews: 3 for a great one, plus a tenth of its word count
for f in train test; do
  { echo 'review,stars'
    awk '{ lab = $1; $1 = ""; t = substr($0, 2); gsub(/"/, "\"\"", t); printf "\"%s\",%.2f\n", t, (lab == "__label__great") * 3 + NF / 10 }' \
      "$SRC/tests/e2e/data/fine_foods_ft_$f.txt"; } > treg_$f.csv
done
"$ASSAY" fit treg_train.csv --target stars --test treg_test.csv --model ridge --out treg.assay --predictions tregfit.csv \
  --db none --json > treg.json
check "text regression: ridge fits the sparse design" test "$(jqv .task treg.json)" = regression
check "text regression: test R2 $(jqv .metrics.test.r2 treg.json) > 0.4" gt "$(jqv .metrics.test.r2 treg.json)" 0.4
"$ASSAY" predict treg.assay treg_test.csv --out tregpred.csv --db none
check "text regression: predict = fit's test predictions" cmp -s tregpred.csv tregfit.csv
"$ASSAY" fit treg_train.csv --target stars --test treg_test.csv --cv 3 --db none --json > tregauto.json
check "text regression: --model auto finds a candidate ($(jqv .model tregauto.json))" test "$(jqv .model tregauto.json)" = ridge

# --- multilabel: a fastText file whose lines carry several labels -------------------------------
MTR="$SRC/tests/e2e/data/tickets_train.txt" MTE="$SRC/tests/e2e/data/tickets_test.txt"
REF=$(jq .f1_micro "$SRC/tests/e2e/data/tickets_sklearn.json")
"$ASSAY" fit "$MTR" --target label --test "$MTE" --model textclf --out ml.assay --predictions mlfit.csv \
  --db none --json > ml.json
check "multilabel: fit exits 0" test $? -eq 0
check "multilabel: the task is inferred from the file" test "$(jqv .task ml.json)" = multilabel
check "multilabel: five labels" test "$(jq '.metrics.test.per_class | length' ml.json)" = 5
f1=$(jqv .metrics.test.f1_micro ml.json)
check "multilabel textclf: test micro F1 $f1 >= scikit-learn's TF-IDF + one-vs-rest LR ($REF)" \
  awk -v a="$f1" -v b="$REF" 'BEGIN { exit !(a >= b) }'
check "multilabel: CV reports micro F1 and hamming loss" \
  test "$(jq '.metrics.cv.mean | has("f1_micro") and has("hamming_loss")' ml.json)" = true
"$ASSAY" predict ml.assay "$MTE" --proba --out mlpred.csv --db none
check "multilabel: predict = fit's test predictions" cmp -s mlpred.csv mlfit.csv
# every predicted set is the labels at p >= 0.5, joined by |
check "multilabel: predicted sets are the labels at p >= 0.5" awk -F, 'NR == 1 { for (i = 2; i <= NF; i++) name[i] = substr($i, 7); next }
  { s = ""; for (i = 2; i <= NF; i++) if ($i + 0 >= 0.5) s = s (s == "" ? "" : "|") name[i]; if (s != $1) bad++ }
  END { exit bad > 0 || NR < 400 }' mlpred.csv
check "multilabel: some rows get two or more labels" test "$(cut -d, -f1 mlpred.csv | grep -c '|')" -gt 50
"$ASSAY" predict ml.assay "$MTE" --json --db none > mlpred.json
check "multilabel: JSON predictions are arrays of labels" \
  test "$(jq '[.predictions[] | type] | unique == ["array"]' mlpred.json)" = true
"$ASSAY" eval ml.assay "$MTE" --json --db none > mleval.json
check "multilabel: eval = fit's test metrics" \
  test "$(jq -r .metrics.f1_micro mleval.json)" = "$(jqv .metrics.test.f1_micro ml.json)"
# the same tickets as JSON Lines, labels as arrays: --task multilabel gives the same model
for f in train test; do
  awk '{ labs = ""; txt = ""
         for (i = 1; i <= NF; i++) if ($i ~ /^__label__/) labs = labs (labs == "" ? "" : ",") "\"" substr($i, 10) "\""
                                   else txt = txt (txt == "" ? "" : " ") $i
         printf "{\"text\": \"%s\", \"label\": [%s]}\n", txt, labs }' "$SRC/tests/e2e/data/tickets_$f.txt" > tickets_$f.jsonl
done
"$ASSAY" fit tickets_train.jsonl --target label --task multilabel --test tickets_test.jsonl --model textclf --db none \
  --json > mljl.json
check "multilabel from JSON arrays: the same test micro F1 as the fastText file" \
  test "$(jqv .metrics.test.f1_micro mljl.json)" = "$(jqv .metrics.test.f1_micro ml.json)"
# one-vs-rest: a binary-only model, one estimator per label, saved and reloaded
"$ASSAY" fit "$MTR" --target label --test "$MTE" --model logreg --params C=10 --cv 0 --out mlr.assay \
  --predictions mlrfit.csv --db none --json > mlr.json
check "multilabel logreg (one-vs-rest): fit exits 0" test $? -eq 0
check "multilabel logreg: micro F1 $(jqv .metrics.test.f1_micro mlr.json) >= 0.8" \
  awk -v a="$(jqv .metrics.test.f1_micro mlr.json)" 'BEGIN { exit !(a >= 0.8) }'
"$ASSAY" predict mlr.assay "$MTE" --proba --out mlrpred.csv --db none
check "multilabel logreg: the reloaded model predicts as fit did" cmp -s mlrpred.csv mlrfit.csv
# serve answers with label arrays
start_server mlserve.log ml.assay
printf '{"instances":[{"text":"my invoice shows a double charge and the package arrived late"},{"text":"forgot my password please reset"}]}' > mlreq.json
code=$(curl -s -o mlresp.json -w '%{http_code}' -d @mlreq.json "$URL/v1/models/ml:predict")
check "multilabel serve: 200" test "$code" = 200
check "multilabel serve: billing and shipping, then account ($(jq -c .predictions mlresp.json))" \
  test "$(jq -c .predictions mlresp.json)" = '[["billing","shipping"],["account"]]'
code=$(curl -s -o /dev/null -w '%{http_code}' -d '{"instances":[{"text":"refund"}],"threshold":2}' "$URL/v1/models/ml:predict")
check "multilabel serve: a threshold outside [0, 1] is a 400" test "$code" = 400
kill "$PID"; wait "$PID" 2>/dev/null
# refusals
printf '__label__a|b some text\n__label__c __label__d more text\n' > pipe.txt
expect_error "multilabel: a label holding the separator" "label 'a\|b' holds '\|'" "$ASSAY" fit pipe.txt --target label --db none
expect_error "multilabel textclf: softmax refused" "multilabel target needs loss=ova" \
  "$ASSAY" fit "$MTR" --target label --model textclf --params loss=softmax --db none
"$ASSAY" report ml.assay "$MTE" --out mlreport.html --db none --json > mlreport.json
check "multilabel report: ROC per label, F1 per label and permutation importance" \
  test "$(jqv .charts mlreport.json)" = 3
check "multilabel report: one ROC curve per label, five labels" \
  test "$(grep -c 'AUC 0\.' mlreport.html)" -ge 5
check "multilabel report: the F1 chart" grep -q "F1 per label" mlreport.html
finish
