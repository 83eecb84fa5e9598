#!/usr/bin/env bash
# bench_multilabel.sh - multilabel text classification: assay's textclf (one sigmoid per label)
# against fastText's `-loss ova` on the same fastText-format files, same hyperparameters (dim
# 100, lr 0.5, 25 epochs, word unigrams, one thread so both are deterministic), and scikit-learn's
# TF-IDF + one-vs-rest logistic regression. Micro precision, recall and F1 with labels predicted at
# probability >= 0.5 (fastText: `test FILE -1 0.5`), and training + test wall time.
# Data (default): the synthetic ticket set of tests/e2e/data (gen_tickets.py). TRAIN= / TEST= to
# use others. Needs: make release; fasttext (Debian package); /usr/bin/python3 with scikit-learn.
set -euo pipefail
cd "$(dirname "$0")/.."
ASSAY=${ASSAY:-./build/release/assay}
TRAIN=${TRAIN:-tests/e2e/data/tickets_train.txt} TEST=${TEST:-tests/e2e/data/tickets_test.txt}
[ -x "$ASSAY" ] || { echo "build first: make release" >&2; exit 1; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
t0=$(date +%s.%N)
"$ASSAY" fit "$TRAIN" --target label --test "$TEST" --model textclf --params dim=100,lr=0.5,epochs=25,ngrams=1 \
  --cv 0 --db none --json --out "$W/a.assay" > "$W/a.json"
t1=$(date +%s.%N)
jq -r --arg s "$(echo "$t1 - $t0" | bc -l)" '"assay textclf:      P \(.metrics.test.precision_micro * 1000 | round / 1000)  R \(.metrics.test.recall_micro * 1000 | round / 1000)  F1 \(.metrics.test.f1_micro * 1000 | round / 1000)  \($s | tonumber * 100 | round / 100) s"' "$W/a.json"
t0=$(date +%s.%N)
fasttext supervised -input "$TRAIN" -output "$W/ft" -loss ova -dim 100 -lr 0.5 -epoch 25 -wordNgrams 1 -thread 1 -seed 1 -verbose 0
fasttext test "$W/ft.bin" "$TEST" -1 0.5 > "$W/ft.txt"
t1=$(date +%s.%N)
awk -v s="$(echo "$t1 - $t0" | bc -l)" '/^P@/ { p = $2 } /^R@/ { r = $2 } END { printf "fastText -loss ova: P %.3f  R %.3f  F1 %.3f  %.2f s\n", p, r, 2 * p * r / (p + r), s }' "$W/ft.txt"
/usr/bin/python3 - "$TRAIN" "$TEST" <<'PY'
import sys, time
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_fscore_support
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer
def read(p):
    rows = [l.split() for l in open(p, encoding="utf-8")]
    return ([[t[9:] for t in r if t.startswith("__label__")] for r in rows],
            [" ".join(t for t in r if not t.startswith("__label__")) for r in rows])
t0 = time.time()
(ytr, xtr), (yte, xte) = read(sys.argv[1]), read(sys.argv[2])
mlb = MultiLabelBinarizer().fit(ytr + yte)
vec = TfidfVectorizer()
clf = OneVsRestClassifier(LogisticRegression()).fit(vec.fit_transform(xtr), mlb.transform(ytr))
pred = (clf.predict_proba(vec.transform(xte)) >= 0.5).astype(int)
p, r, f, _ = precision_recall_fscore_support(mlb.transform(yte), pred, average="micro", zero_division=0)
print("scikit-learn OvR LR: P %.3f  R %.3f  F1 %.3f  %.2f s (in-process)" % (p, r, f, time.time() - t0))
PY
