#!/usr/bin/env bash
# test_pretrain.sh ASSAY SRC - assay pretrain end to end: a tiny BERT (hidden 32, 2 layers,
# seq-len 32, a trained vocabulary of 500) pretrained by masked language modelling for 60 steps
# on the review column of the bundled fine foods reviews;
# loss.csv exists and the loss falls (mean of the last quarter below the first quarter); the
# checkpoint is a Hugging Face BertForMaskedLM directory; a run stopped at step 25 and resumed
# gives model.safetensors identical byte for byte to an uninterrupted run; a NaN loss stops
# naming the step and keeps the last checkpoint; the refusals; assay embed; and assay fit
# --model bert fine-tuning that encoder on a synthetic task (the label is the sentiment word
# hidden among filler words), single and paired text columns, mean-pooled (default) and [CLS]
# heads, saved and predicted again; --from continues a checkpoint on a corpus of its own.
source "$(dirname "$0")/lib.sh"
# the review column of the bundled fine foods reviews (a clone has no ../shared)
CORPUS=("$SRC/examples/fine_foods_train.csv" --column review)
TINY=(--hidden 32 --layers 2 --heads 2 --seq-len 32 --vocab-size 500 --batch-size 16 --lr 2e-3
      --steps 60 --accum 2 --threads 2 --seed 7)

"$ASSAY" pretrain "${CORPUS[@]}" --out run "${TINY[@]}" --json > run.json
check "pretrain: exits 0" test $? -eq 0
check "loss.csv has a header and 60 rows" test "$(head -1 run/loss.csv),$(grep -c '^[0-9]' run/loss.csv)" = "step,loss,lr,tokens_per_s,60"
q=$(awk -F, 'NR > 1 { l[NR - 1] = $2; n = NR - 1 } END { for (i = 1; i <= n / 4; i++) a += l[i];
    for (i = n - n / 4 + 1; i <= n; i++) b += l[i]; printf "%.4f %.4f", a / (n / 4), b / (n / 4) }' run/loss.csv)
check "the loss falls: first quarter, last quarter = $q" awk -v a="${q% *}" -v b="${q#* }" 'BEGIN { exit !(b < a - 0.3) }'
check "tokens counted and throughput reported" gt "$(jqv .tokens_per_s run.json)" 1000
check "the checkpoint: config.json, vocab.txt, model.safetensors, training state" \
  test -s run/config.json -a -s run/vocab.txt -a -s run/model.safetensors -a -s run/training_state.safetensors
check "config.json: BertForMaskedLM, vocabulary 500" test \
  "$(jq -r '.architectures[0] + " " + (.vocab_size | tostring) + " " + .model_type' run/config.json)" = "BertForMaskedLM 500 bert"
check "vocab.txt: 500 tokens" test "$(wc -l < run/vocab.txt)" -eq 500
hlen=$(od -An -t u8 -N 8 run/model.safetensors | tr -d ' ')
names=$(head -c $((8 + hlen)) run/model.safetensors | tail -c "$hlen" | jq -r 'keys | join(" ")')
for t in cls.predictions.bias cls.predictions.transform.dense.weight cls.predictions.transform.LayerNorm.weight \
         bert.embeddings.word_embeddings.weight bert.encoder.layer.1.output.LayerNorm.bias; do
  check "model.safetensors has $t" grep -qw -- "$t" <<< "$names"
done
# interrupted at step 25, resumed: the same bits as the straight run
"$ASSAY" pretrain "${CORPUS[@]}" --out part "${TINY[@]}" --stop-at 25 --quiet > /dev/null
check "stopped at step 25: loss.csv has 25 rows" test "$(grep -c '^[0-9]' part/loss.csv)" -eq 25
"$ASSAY" pretrain "${CORPUS[@]}" --out part --resume --threads 2 --quiet > /dev/null
check "resumed: exits 0" test $? -eq 0
check "resume gives model.safetensors identical to the uninterrupted run" cmp -s run/model.safetensors part/model.safetensors
check "resume gives the same optimizer state" cmp -s run/training_state.safetensors part/training_state.safetensors
check "resumed loss.csv: 60 rows, the same losses" test \
  "$(cut -d, -f1-3 part/loss.csv | md5sum)" = "$(cut -d, -f1-3 run/loss.csv | md5sum)"
# the review column of a CSV
"$ASSAY" pretrain "$SRC/examples/fine_foods_train.csv" --column review --out new/dirs/reviews "${TINY[@]}" \
  --steps 12 --json > reviews.json
check "CSV --column review: exits 0 with tokens ($(jqv .tokens reviews.json))" gt "$(jqv .tokens reviews.json)" 100000
check "--out creates the folders above it" test -s new/dirs/reviews/model.safetensors
# the trained vocabulary keeps whole common words (the most frequent pair is merged first)
check "the vocabulary has 'the', 'and' and 'great' as whole words" \
  test "$(grep -c -x -e the -e and -e great new/dirs/reviews/vocab.txt)" = 3
# invalid UTF-8 is replaced and counted
printf 'caf\xe9 au lait \xff is nice\nand more words here for the vocabulary\n' > bad.txt
"$ASSAY" pretrain bad.txt --out bad "${TINY[@]}" --steps 2 --vocab-size 100 --json > bad.json 2> bad.err
check "invalid UTF-8: 2 bytes replaced and counted" test "$(jqv .invalid_utf8 bad.json)" = 2
check "invalid UTF-8: a note on stderr" grep -q "2 invalid UTF-8 bytes replaced" bad.err
# a diverging run stops at the NaN and keeps the last good checkpoint
expect_error "a NaN loss names the step and the last checkpoint" "step [0-9]+: the loss is NaN; stopped \(the last good checkpoint in nan is from step 2" \
  "$ASSAY" pretrain "${CORPUS[@]}" --out nan "${TINY[@]}" --lr 1e6 --warmup 0 --save-every 2 --quiet
check "the NaN run kept its step-2 checkpoint" test -s nan/model.safetensors
# refusals
: > empty.txt
touch afile
expect_error "--out under a file" "--out afile/x: Not a directory" "$ASSAY" pretrain "${CORPUS[@]}" --out afile/x "${TINY[@]}"
expect_error "empty corpus" "empty.txt: no text to pretrain on" "$ASSAY" pretrain empty.txt --out e1 "${TINY[@]}"
expect_error "missing file" "missing.txt: No such file" "$ASSAY" pretrain missing.txt --out e2 "${TINY[@]}"
expect_error "--heads must divide --hidden" "--hidden 30 is not a multiple of --heads 4" \
  "$ASSAY" pretrain "${CORPUS[@]}" --out e3 --hidden 30 --heads 4
expect_error "no --out" "--out DIR is required" "$ASSAY" pretrain "${CORPUS[@]}"
expect_error "a CSV without --column" "needs --column NAME" "$ASSAY" pretrain "$SRC/examples/fine_foods_train.csv" --out e4
expect_error "an unknown --column" "no column 'nosuch'" "$ASSAY" pretrain "$SRC/examples/fine_foods_train.csv" --column nosuch --out e5
expect_error "a second run into a used directory" "already holds a pretraining run" "$ASSAY" pretrain "${CORPUS[@]}" --out run "${TINY[@]}"
expect_error "--resume without a checkpoint" "no checkpoint to resume" "$ASSAY" pretrain "${CORPUS[@]}" --out e6 --resume
echo "a few other words" > other.txt
expect_error "--resume on another corpus" "the corpus gives .* tokens" "$ASSAY" pretrain other.txt --out run --resume
# --from: continued pretraining of a checkpoint (its architecture and vocabulary, a fresh
# optimizer from step 0) on a corpus of its own
CONT=(--seq-len 32 --batch-size 16 --lr 5e-4 --steps 10 --accum 2 --threads 2 --seed 7)
"$ASSAY" pretrain "${CORPUS[@]}" --from run --out cont "${CONT[@]}" --json > cont.json
check "--from: exits 0, starts at step 0 and runs 10 steps" test "$(jq -r '"\(.start_step) \(.steps)"' cont.json)" = "0 10"
check "--from: the same architecture and vocabulary" cmp -s run/vocab.txt cont/vocab.txt
check "--from: config.json as the checkpoint's" test "$(jq -c 'del(.architectures)' cont/config.json)" = "$(jq -c 'del(.architectures)' run/config.json)"
check "--from: the first loss ($(jqv .loss_first cont.json)) continues the checkpoint's, far below a fresh model's ($(jqv .loss_first run.json))" \
  awk -v a="$(jqv .loss_first cont.json)" -v b="$(jqv .loss_first run.json)" 'BEGIN { exit !(a < b - 0.5) }'
"$ASSAY" pretrain "${CORPUS[@]}" --from run --out contp "${CONT[@]}" --stop-at 4 --quiet > /dev/null
"$ASSAY" pretrain "${CORPUS[@]}" --out contp --resume --threads 2 --quiet > /dev/null
check "--from, stopped at step 4 and resumed: the same bits as straight through" cmp -s cont/model.safetensors contp/model.safetensors
# --from a Hugging Face checkpoint (the parity fixture: a head-less BertModel whose 120-token
# vocabulary spells no English word): it loads, the head starts fresh, a note on [UNK]
"$ASSAY" pretrain "${CORPUS[@]}" --from "$SRC/tests/parity/fixtures/bert_tiny" --out hf --seq-len 32 \
  --batch-size 4 --steps 2 --threads 2 --json > hf.json 2> hf.err
check "--from a Hugging Face checkpoint: exits 0 with its 120-token vocabulary" test "$(jqv .vocab_size hf.json)" = 120
check "--from a vocabulary that does not spell the corpus: a note with the [UNK] share" \
  grep -q "note: [0-9]*% of the corpus's [0-9]* tokens are \[UNK\]" hf.err
expect_error "--from with an architecture option" "takes the architecture and vocabulary from its checkpoint \(drop --layers\)" \
  "$ASSAY" pretrain "${CORPUS[@]}" --from run --out e7 --layers 3
expect_error "--from with --resume" "give one of them" "$ASSAY" pretrain "${CORPUS[@]}" --from run --out cont --resume
mkdir -p e10
expect_error "--from the --out directory" "is the --out directory" "$ASSAY" pretrain "${CORPUS[@]}" --from e10/../e10 --out e10
expect_error "--from a missing directory" "--from nodir: No such file or directory" "$ASSAY" pretrain "${CORPUS[@]}" --from nodir --out e8
expect_error "--from a file" "--from afile: not a directory" "$ASSAY" pretrain "${CORPUS[@]}" --from afile --out e9
# assay embed: sentence embeddings from the pretrained directory
printf 'great tea, love it\nstale and awful, threw it away\ngreat tea, love it\n' > texts.txt
"$ASSAY" embed run texts.txt --out emb.csv --db none
check "embed: a header e1..e32 and one row per text" \
  test "$(head -1 emb.csv | tr , '\n' | wc -l),$(tail -n +2 emb.csv | wc -l)" = "32,3"
d=$(awk -F, 'NR == 2 { for (i = 1; i <= NF; i++) a[i] = $i } NR == 4 { for (i = 1; i <= NF; i++) { x = $i - a[i]; m = x < 0 ? -x : x; if (m > d) d = m } } END { printf "%g", d }' emb.csv)
check "embed: the same text twice gives the same embedding (max |diff| $d)" awk -v d="$d" 'BEGIN { exit !(d < 1e-5) }'
d2=$(awk -F, 'NR == 2 { for (i = 1; i <= NF; i++) a[i] = $i } NR == 3 { for (i = 1; i <= NF; i++) { x = $i - a[i]; s += x * x } } END { printf "%g", s }' emb.csv)
check "embed: different texts give different embeddings ($d2)" awk -v d="$d2" 'BEGIN { exit !(d > 1e-6) }'
"$ASSAY" embed run "$SRC/examples/fine_foods_test.csv" --column review --max-len 16 --pooling cls --json \
  --db none > emb.json 2> emb.err
check "embed --json: 1000 texts of dimension 32" test "$(jq -r '"\(.texts) \(.dimension) \(.embeddings | length) \(.embeddings[0] | length)"' emb.json)" = "1000 32 1000 32"
check "embed: the texts cut to --max-len are counted ($(cat emb.err))" grep -q "texts were longer than 16 tokens" emb.err
expect_error "embed: --max-len past the positions" "the model has 512 positions" "$ASSAY" embed run texts.txt --max-len 1000 --db none
expect_error "embed: not a model directory" "config.json" "$ASSAY" embed nowhere texts.txt --db none
: > empty.txt
expect_error "embed: no texts" "no texts" "$ASSAY" embed run empty.txt --db none
# assay fit --model bert: fine-tune the pretrained encoder. The label is carried by one
# sentiment word among filler words; the model has to find it (with a 500-token vocabulary
# that is mostly characters).
syn() { # syn SEED ROWS PAIR: text(,other),label
  awk -v seed="$1" -v rows="$2" -v pair="$3" 'BEGIN { srand(seed); split("tea coffee box bag taste price order brand snack cookie sauce flavor", f, " ")
    split("excellent wonderful", g, " "); split("terrible awful", b, " ")
    print pair ? "text,other,label" : "text,label"
    for (i = 0; i < rows; i++) { y = i % 2; s = ""; n = 3 + int(rand() * 4); k = int(rand() * n)
      for (j = 0; j < n; j++) { s = s (j ? " " : "") f[1 + int(rand() * 12)]; if (j == k) s = s " " (y ? g[1 + int(rand() * 2)] : b[1 + int(rand() * 2)]) }
      o = f[1 + int(rand() * 12)]; n = 2 + int(rand() * 4); for (j = 0; j < n; j++) o = o " " f[1 + int(rand() * 12)]
      if (pair) print "\"" o "\",\"" s "\"," (y ? "pos" : "neg"); else print "\"" s "\"," (y ? "pos" : "neg") } }'
}
syn 11 400 0 > syn.csv
syn 12 100 0 > syn_test.csv
BERT=(--target label --model bert --encoder run --epochs 8 --lr 2e-3 --params max_len=64 --cv 0 --db none)
"$ASSAY" fit syn.csv --test syn_test.csv "${BERT[@]}" --out syn.assay --predictions fitpred.csv --json > syn.json
check "fit --model bert: exits 0" test $? -eq 0
check "bert: one text column gives max_len = 64 token columns" test "$(jqv .features syn.json)" = 64
l=$(jq -r '"\(.training.train_loss[0]) \(.training.train_loss[-1]) \(.training.epochs)"' syn.json)
check "bert: 8 epochs, the training loss falls below a third of the first epoch's ($l)" \
  awk -v a="${l%% *}" -v b="$(cut -d' ' -f2 <<< "$l")" 'BEGIN { exit !(b < a / 3) }'
check "bert: test accuracy at least 0.95 ($(jqv .metrics.test.accuracy syn.json))" gt "$(jqv .metrics.test.accuracy syn.json)" 0.949
"$ASSAY" predict syn.assay syn_test.csv --proba --out pred.csv --db none
d=$(paste -d, <(tail -n +2 fitpred.csv) <(tail -n +2 pred.csv) | awk -F, '{ x = $2 - $5; if (x < 0) x = -x; if (x > d) d = x; if ($1 != $4) m++ }
    END { printf "%g %d", d, m }')
check "bert: the saved model predicts what fit predicted (max |diff|, label mismatches: $d)" awk -v d="${d% *}" -v m="${d#* }" 'BEGIN { exit !(d < 1e-9 && m == 0) }'
"$ASSAY" fit syn.csv --test syn_test.csv "${BERT[@]}" --out syn2.assay > /dev/null
check "bert: the same seed gives the same model file" cmp -s syn.assay syn2.assay
"$ASSAY" fit syn.csv --test syn_test.csv "${BERT[@]}" --params max_len=64,init=random --out synr.assay --json > synr.json
check "bert init=random: another model" test "$(cmp -s syn.assay synr.assay; echo $?)" = 1
# serve answers with the fine-tuned model: the same probabilities as predict
"$ASSAY" serve syn.assay --port 0 --db none 2> serve.log &
SPID=$!
for _ in $(seq 1 200); do grep -q "listening on" serve.log 2>/dev/null && break; sleep 0.05; done
URL=$(grep -o 'http://[0-9.]*:[0-9]*' serve.log | head -1)
row=$(sed -n 2p syn_test.csv | cut -d'"' -f2)
curl -s -X POST "$URL/v1/models/syn:predict" -d "{\"instances\": [{\"text\": \"$row\"}]}" > served.json
kill "$SPID"; wait "$SPID" 2> /dev/null
d=$(awk -v a="$(jq -r '.probabilities[0][1]' served.json)" -v b="$(sed -n 2p pred.csv | cut -d, -f3)" 'BEGIN { x = a - b; print (x < 0 ? -x : x) }')
check "bert: serve gives predict's probability for a test row (|diff| $d)" awk -v d="$d" 'BEGIN { exit !(d < 1e-9) }'
"$ASSAY" fit syn.csv --test syn_test.csv "${BERT[@]}" --params max_len=64,pooling=cls --out sync.assay \
  --predictions fitpredc.csv --json > sync.json
check "bert pooling=cls: test accuracy at least 0.95 ($(jqv .metrics.test.accuracy sync.json))" gt "$(jqv .metrics.test.accuracy sync.json)" 0.949
"$ASSAY" predict sync.assay syn_test.csv --proba --out predc.csv --db none
check "bert pooling=cls: the saved model predicts what fit predicted" \
  test "$(cut -d, -f1,2 fitpredc.csv | md5sum)" = "$(cut -d, -f1,2 predc.csv | md5sum)"
check "bert pooling=cls: other probabilities than the default mean-pooled head's" \
  test "$(cut -d, -f2 fitpredc.csv | md5sum)" != "$(cut -d, -f2 fitpred.csv | md5sum)"
hlen=$(od -An -t u8 -N 8 syn.assay | tr -d ' ')
check "bert: the model file records the head's input (mean by default)" \
  grep -q '\\"pooling\\":\\"mean\\"' <(head -c $((8 + hlen)) syn.assay)
syn 13 400 1 > pair.csv
"$ASSAY" fit pair.csv --target label --model bert --encoder run --epochs 8 --lr 2e-3 --params max_len=48 \
  --cv 0 --db none --json --out pair.assay > pair.json
check "bert on a pair of text columns: 2 x 48 token columns" test "$(jqv .features pair.json)" = 96
check "bert pair: the word in the second text is found (accuracy $(jqv .metrics.test.accuracy pair.json))" gt "$(jqv .metrics.test.accuracy pair.json)" 0.9
expect_error "bert without --encoder" "model 'bert' needs an encoder: --encoder DIR" \
  "$ASSAY" fit syn.csv --target label --model bert --db none
expect_error "--encoder for another model" "--encoder is for --model bert" \
  "$ASSAY" fit syn.csv --target label --model logreg --encoder run --db none
expect_error "bert with an encoder directory without vocab.txt" "nowhere/vocab.txt" \
  "$ASSAY" fit syn.csv --target label --model bert --encoder nowhere --db none
expect_error "bert on a table without text" "model 'bert' reads text columns and .* has none" \
  "$ASSAY" fit "$SRC/examples/credit_data.csv" --target Status --model bert --encoder run --db none
expect_error "bert: max_len past the encoder's positions" "max_len 600 is longer than the encoder's 512 positions" \
  "$ASSAY" fit syn.csv --target label --model bert --encoder run --params max_len=600 --cv 0 --db none
# --precision bf16: dense-layer products on bf16 operands (oneDNN) where the CPU has AVX512_BF16
# or AMX (read here from /proc/cpuinfo, independently of oneDNN's own detection)
if grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
  "$ASSAY" fit syn.csv --test syn_test.csv "${BERT[@]}" --precision bf16 --out synb.assay --predictions fitpredb.csv --json > synb.json
  check "bf16 fine-tuning: exits 0 and reports precision bf16" test "$(jq -r .training.precision synb.json)" = bf16
  check "bf16 fine-tuning: test accuracy at least 0.95 ($(jqv .metrics.test.accuracy synb.json))" gt "$(jqv .metrics.test.accuracy synb.json)" 0.949
  check "bf16 fine-tuning: a model other than fp32's (the products were rounded)" test "$(cmp -s syn.assay synb.assay; echo $?)" = 1
  "$ASSAY" fit syn.csv --test syn_test.csv "${BERT[@]}" --precision bf16 --out synb2.assay > /dev/null
  check "bf16 fine-tuning: the same seed and threads give the same model file" cmp -s synb.assay synb2.assay
  "$ASSAY" predict synb.assay syn_test.csv --proba --out predb.csv --db none
  check "bf16: the saved model predicts what fit predicted" \
    test "$(cut -d, -f1,2 fitpredb.csv | md5sum)" = "$(cut -d, -f1,2 predb.csv | md5sum)"
  "$ASSAY" pretrain "${CORPUS[@]}" --out runb "${TINY[@]}" --precision bf16 --stop-at 25 --quiet > /dev/null
  "$ASSAY" pretrain "${CORPUS[@]}" --out runb --resume --threads 2 --quiet > /dev/null
  "$ASSAY" pretrain "${CORPUS[@]}" --out runb2 "${TINY[@]}" --precision bf16 --json > runb2.json
  check "bf16 pretraining: resumed from step 25 (the record keeps bf16), the same bits as a straight run" \
    cmp -s runb/model.safetensors runb2/model.safetensors
  check "bf16 pretraining: other bits than fp32's" test "$(cmp -s run/model.safetensors runb2/model.safetensors; echo $?)" = 1
  q=$(awk -F, 'NR > 1 { l[NR - 1] = $2; n = NR - 1 } END { for (i = 1; i <= n / 4; i++) a += l[i];
      for (i = n - n / 4 + 1; i <= n; i++) b += l[i]; printf "%.4f %.4f", a / (n / 4), b / (n / 4) }' runb2/loss.csv)
  check "bf16 pretraining: the loss falls (first quarter, last quarter = $q)" awk -v a="${q% *}" -v b="${q#* }" 'BEGIN { exit !(b < a - 0.3) }'
fi
# without native bf16 (oneDNN held to AVX2 here, as on such a CPU): a refusal naming what it has
expect_error "bf16 on a CPU without it: fit refuses" "precision=bf16 needs a CPU with AVX512_BF16 or AMX; this one has avx2" \
  env ONEDNN_MAX_CPU_ISA=AVX2 "$ASSAY" fit syn.csv "${BERT[@]}" --precision bf16
expect_error "bf16 on a CPU without it: pretrain refuses" "bf16 needs a CPU with AVX512_BF16 or AMX; this one has avx2" \
  env ONEDNN_MAX_CPU_ISA=AVX2 "$ASSAY" pretrain "${CORPUS[@]}" --out nob "${TINY[@]}" --precision bf16
expect_error "--precision: an unknown value" "expected fp32 or bf16, got 'fp16'" \
  "$ASSAY" pretrain "${CORPUS[@]}" --out nob2 "${TINY[@]}" --precision fp16
finish
