#!/bin/sh
# bench_text.sh - textclf (bench_textclf) against Debian's fasttext 0.9.2 on the same fastText-
# format files, hyperparameters and threads, in the same run; medians of REPS repetitions.
#
#   bench/bench_text.sh [BUILD_DIR] [REPS] [LARGE_REPS]
#
# Data (written to $WORK, default /tmp/bench_text):
#   fine_foods  /work/shared/data/fine_foods_{train,test}.csv -> fastText format: label
#               __label__<score>, text = review lower-cased with . ! ? , ' / ( ) separated by
#               spaces (the fastText tutorial's preprocessing), newlines as spaces.
#   large       >= 50 million words: the fine_foods training reviews (great/other) and Austen's
#               novels cut into 4-line passages labelled by novel (6 novels: 8 labels in all),
#               shuffled copies with 10% of the words dropped at random in each copy until
#               50.5M words (the labels' balance is the source's, not even); test:
#               fine_foods test + every 20th passage (held out of training).
# Settings: fine_foods the issue's (dim 100, lr 0.5, 25 epochs, bigrams); large dim 100, lr 0.1
# (fastText's defaults), 2 epochs (to keep the run short), bigrams; both bucket 2000000,
# minCount 1, 2 threads, softmax.
# Words/s: fastText's own "words/sec/thread" (training loop only) x threads against
# bench_textclf's words / SGD seconds, the same token count (words + labels + </s> per line).
# fastText's loop re-reads and re-tokenises the file every epoch; bench_textclf featurises once
# before its loop (prep_s), so its words/s leaves that out - the wall times include both.
# Wall: fastText supervised + test end to end (it also saves its model) against bench_textclf
# end to end (read, featurize, train, test; no save), both timed from outside the process.
# Peak RSS: /usr/bin/time's maximum resident set of the training process.
set -eu
BUILD=${1:-/tmp/build-t2}
REPS=${2:-5}
LREPS=${3:-3}
WORK=${BENCH_TEXT_WORK:-/tmp/bench_text}
FT=${FASTTEXT:-/usr/bin/fasttext}
DATA=/work/shared/data
mkdir -p "$WORK"

python3 - "$DATA" "$WORK" <<'EOF'
import csv, os, random, re, sys
data, work = sys.argv[1], sys.argv[2]
punct = re.compile(r"([.!?,'/()])")
def norm(s):
    return " ".join(punct.sub(r" \1 ", s.replace("\n", " ").replace("\r", " ")).lower().split())
def conv(src):
    out = []
    with open(src, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.append("__label__%s %s" % (row["score"], norm(row["review"])))
    return out
train = conv(os.path.join(data, "fine_foods_train.csv"))
test = conv(os.path.join(data, "fine_foods_test.csv"))
for name, lines in (("ff.train", train), ("ff.test", test)):
    with open(os.path.join(work, name), "w") as f:
        f.write("\n".join(lines) + "\n")
big = os.path.join(work, "large.train")
if not os.path.exists(big):
    titles = {"SENSE AND SENSIBILITY": "sense", "PRIDE AND PREJUDICE": "pride",
              "MANSFIELD PARK": "mansfield", "EMMA": "emma", "NORTHANGER ABBEY": "northanger",
              "Persuasion": "persuasion"}  # austen.txt spells this title line in mixed case
    paras, cur, novel = [], [], None
    for line in open(os.path.join(data, "austen.txt"), encoding="utf-8"):
        line = line.strip()
        if line in titles or line in ("THE END", "FINIS", "Finis", "A NOTE ON THE TEXT"):
            novel, cur = titles.get(line), []
            continue
        if novel and line:
            cur.append(line)
            if len(cur) == 4:
                paras.append("__label__%s %s" % (novel, norm(" ".join(cur))))
                cur = []
    docs = train + [p for i, p in enumerate(paras) if i % 20]
    rng = random.Random(1)
    words = 0
    with open(big + ".tmp", "w") as f:
        while words < 50_500_000:
            rng.shuffle(docs)
            for d in docs:
                toks = d.split()
                keep = [toks[0]] + [t for t in toks[1:] if rng.random() >= 0.1]
                words += len(keep) - 1
                f.write(" ".join(keep) + "\n")
    os.rename(big + ".tmp", big)
    with open(os.path.join(work, "large.test"), "w") as f:
        f.write("\n".join(test + [p for i, p in enumerate(paras) if i % 20 == 0]) + "\n")
EOF

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

# run_pair NAME DIM LR EPOCHS REPS
run_pair() {
    name=$1 dim=$2 lr=$3 ep=$4 reps=$5
    : > "$WORK/$name.ours" ; : > "$WORK/$name.ft"
    i=0
    while [ $i -lt "$reps" ]; do
        i=$((i + 1))
        /usr/bin/time -f "%e %M" -o "$WORK/time" \
            "$BUILD/bench_textclf" "$WORK/$name.train" "$WORK/$name.test" "$dim" "$lr" "$ep" 2 \
            2000000 2 > "$WORK/out"
        # total_s: the process's wall time (as fastText's); the program's own timer: inner_total_s
        echo "$(sed 's/total_s=/inner_total_s=/' "$WORK/out") total_s=$(cut -d' ' -f1 "$WORK/time") rss_kb=$(cut -d' ' -f2 "$WORK/time")" >> "$WORK/$name.ours"
        t0=$(date +%s.%N)
        /usr/bin/time -f "%e %M" -o "$WORK/time" "$FT" supervised -input "$WORK/$name.train" \
            -output "$WORK/ft_$name" -dim "$dim" -lr "$lr" -epoch "$ep" -wordNgrams 2 \
            -bucket 2000000 -minCount 1 -thread 2 -loss softmax -verbose 2 > "$WORK/ftlog" 2>&1
        wps=$(tr '\r' '\n' < "$WORK/ftlog" | sed -n 's/.*words\/sec\/thread: *\([0-9]*\).*/\1/p' | tail -1)
        rss=$(cut -d' ' -f2 "$WORK/time")
        acc=$("$FT" test "$WORK/ft_$name.bin" "$WORK/$name.test" | sed -n 's/^P@1[[:space:]]*//p')
        t1=$(date +%s.%N)
        echo "accuracy=$acc words_per_s=$((wps * 2)) total_s=$(echo "$t1 - $t0" | bc) rss_kb=$rss" >> "$WORK/$name.ft"
        rm -f "$WORK/ft_$name.bin" "$WORK/ft_$name.vec"
    done
    for who in ours ft; do
        for k in accuracy words_per_s total_s rss_kb; do
            printf '%s %s %s median %s\n' "$name" "$who" "$k" \
                "$(while read -r l; do echo "$l" | field $k; done < "$WORK/$name.$who" | median)"
        done
    done
    oa=$(while read -r l; do echo "$l" | field accuracy; done < "$WORK/$name.ours" | median)
    fa=$(while read -r l; do echo "$l" | field accuracy; done < "$WORK/$name.ft" | median)
    ow=$(while read -r l; do echo "$l" | field words_per_s; done < "$WORK/$name.ours" | median)
    fw=$(while read -r l; do echo "$l" | field words_per_s; done < "$WORK/$name.ft" | median)
    ot=$(while read -r l; do echo "$l" | field total_s; done < "$WORK/$name.ours" | median)
    ftt=$(while read -r l; do echo "$l" | field total_s; done < "$WORK/$name.ft" | median)
    echo "$name ratio accuracy(ours-ft)=$(echo "$oa - $fa" | bc -l) words_per_s(ours/ft)=$(echo "scale=3; $ow / $fw" | bc -l) wall(ft/ours)=$(echo "scale=3; $ftt / $ot" | bc -l)"
    echo "$name runs ours:"; cat "$WORK/$name.ours"
    echo "$name runs fasttext:"; cat "$WORK/$name.ft"
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), fasttext $(dpkg-query -W -f '${Version}' fasttext 2>/dev/null)"
echo "large corpus: $(wc -l < "$WORK/large.train") lines, $(wc -w < "$WORK/large.train") tokens (incl. labels)"
run_pair ff 100 0.5 25 "$REPS"
run_pair large 100 0.1 2 "$LREPS"
