#!/usr/bin/env bash
# test_errors.sh ASSAY SRC - bad input: one line naming what and where, exit status 1, no crash,
# no output file left behind.
source "$(dirname "$0")/lib.sh"
CREDIT="$SRC/examples/credit_data.csv"

# -- data files -------------------------------------------------------------------------------
: > empty.csv
expect_error "empty file" "empty.csv.*empty" "$ASSAY" fit empty.csv --target y --db none
printf 'a,b,y\n' > header.csv
expect_error "header only" "header.csv.*no data rows" "$ASSAY" fit header.csv --target y --db none
printf 'a,b,y\n1,2,x\n3,4\n5,6,z\n' > ragged.csv
expect_error "ragged row" "ragged.csv:3.*expected 3 fields, found 2" "$ASSAY" fit ragged.csv --target y --db none
printf 'a,b,y\n1,2,x\n3,"4,y\n5,6,z\n' > quote.csv
expect_error "unterminated quote" "quote.csv:3.*unterminated" "$ASSAY" fit quote.csv --target y --db none
printf 'a,b,y\n1,2,x\n3,\xff\xfe,y\n' > utf8.csv
expect_error "invalid UTF-8 with --strict-utf8" "utf8.csv:3:3: invalid UTF-8 .byte 0xFF." \
  "$ASSAY" fit utf8.csv --target y --db none --strict-utf8
# by default each bad byte becomes U+FFFD and is counted; the read goes on
"$ASSAY" fit utf8.csv --target y --db none --model logreg --cv 0 --test-size 0 --out utf8.assay > /dev/null 2> utf8.err
check "invalid UTF-8 is replaced and counted ($(head -1 utf8.err))" grep -q "utf8.csv: 2 invalid UTF-8 bytes replaced" utf8.err
expect_error "missing file" "nope.csv" "$ASSAY" fit nope.csv --target y --db none
expect_error "target column absent" "no column 'Nope'" "$ASSAY" fit "$CREDIT" --target Nope --db none
awk -F, 'BEGIN { OFS = "," } NR == 1 { print; next } { $1 = "\"good\""; print }' "$CREDIT" > constant.csv
printf 'a,y\n1,\n2,NA\n' > nolabel.csv
expect_error "target missing in every row" "nolabel.csv.*missing in every row" "$ASSAY" fit nolabel.csv --target y --db none
expect_error "constant target" "constant" "$ASSAY" fit constant.csv --target Status --db none
expect_error "numeric forced on text" "Home.*not a number" "$ASSAY" fit "$CREDIT" --target Status --column Home:numeric --db none
expect_error "bad --column" "--column" "$ASSAY" fit "$CREDIT" --target Status --column Home:colour --db none
expect_error "unknown positive label" "--positive.*'ugly'" "$ASSAY" fit "$CREDIT" --target Status --positive ugly --db none
expect_error "unknown model" "--model.*unknown model 'forest'" "$ASSAY" fit "$CREDIT" --target Status --model forest --db none
expect_error "bad hyperparameter" "logreg.*C" "$ASSAY" fit "$CREDIT" --target Status --model logreg --params C=-1 --db none
expect_error "unknown option" "--frobnicate" "$ASSAY" fit "$CREDIT" --target Status --frobnicate
expect_error "no target" "--target is required" "$ASSAY" fit "$CREDIT"
expect_error "output directory missing" "no/such/dir" "$ASSAY" fit "$CREDIT" --target Status --out no/such/dir/m.assay --db none
check "no model written for a missing directory" test ! -e no

# A few unparseable cells in a numeric column are not fatal: they become missing and are counted.
awk -F, 'BEGIN { OFS = "," } NR == 5 || NR == 9 { $10 = "12k" } { print }' "$CREDIT" > dirty.csv
"$ASSAY" fit dirty.csv --target Status --positive bad --db none --out dirty.assay --json > dirty.json
check "dirty numeric cells: fit succeeds" test $? -eq 0
check "dirty numeric cells: counted" test "$(jq '.data.invalid_cells.Income' dirty.json)" = 2
"$ASSAY" fit dirty.csv --target Status --positive bad --db none --out dirty.assay > dirty.txt
check "dirty numeric cells: reported in text" grep -q "Income.*2 cells" dirty.txt

# -- model files --------------------------------------------------------------------------------
"$ASSAY" fit "$CREDIT" --target Status --positive bad --db none --out good.assay --model logreg --cv 0 > /dev/null
check "reference model written" test -s good.assay
size=$(stat -c %s good.assay)
head -c $((size / 2)) good.assay > truncated.assay
expect_error "truncated model" "truncated.assay" "$ASSAY" predict truncated.assay "$CREDIT" --db none
head -c 5 good.assay > tiny.assay
expect_error "tiny model" "tiny.assay" "$ASSAY" predict tiny.assay "$CREDIT" --db none
perl -pe 's/"__metadata__"/"__metadata_\x01"/' good.assay > header.assay
expect_error "corrupted header" "header.assay" "$ASSAY" predict header.assay "$CREDIT" --db none
perl -0pe 's/("data_offsets":\[)(\d)/${1}9$2/' good.assay > offsets.assay
check "offsets were changed" bash -c '! cmp -s good.assay offsets.assay'
expect_error "wrong offsets" "offsets.assay" "$ASSAY" predict offsets.assay "$CREDIT" --db none
perl -pe 's/"assay.format":"1"/"assay.format":"9"/' good.assay > newer.assay
check "format was changed" bash -c '! cmp -s good.assay newer.assay'
expect_error "newer format version" "newer.assay.*version" "$ASSAY" predict newer.assay "$CREDIT" --db none
expect_error "not a model" "credit_data.csv" "$ASSAY" predict "$CREDIT" "$CREDIT" --db none
expect_error "predict output directory missing" "no/dir" "$ASSAY" predict good.assay "$CREDIT" --out no/dir/p.csv --db none
# Predict data lacking a model input column.
cut -d, -f1-5 "$CREDIT" > narrow.csv
expect_error "missing input column" "narrow.csv|Marital|missing" "$ASSAY" predict good.assay narrow.csv --db none
# An existing output is replaced whole or left alone: a failing predict keeps the old file.
echo "old" > keep.csv
"$ASSAY" predict truncated.assay "$CREDIT" --out keep.csv --db none 2>/dev/null
check "failed predict leaves the old output" test "$(cat keep.csv)" = old
check "no temporary files left" bash -c '! ls | grep -q "\.tmp\."'

# -- store ------------------------------------------------------------------------------------------
echo "not a database" > bad.db
expect_error "store that is not a database" "bad.db" "$ASSAY" runs --db bad.db

finish
