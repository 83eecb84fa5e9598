#!/usr/bin/env bash
# bench_nn.sh - assay's neural networks against PyTorch (Debian's python3-torch) on
# Fashion-MNIST, same architecture, batch size (64), optimizer (Adam, cosine decay) and threads
# (2), in the same run: seconds per training epoch (median over the epochs run), throughput in
# GFLOP/s against the machine's measured cblas_sgemm peak (bench/sgemm_peak.c), test accuracy.
# PyTorch is timed twice: with the idiomatic DataLoader, and with a bare slicing loop.
#   MLP_EPOCHS (default 3), CNN_EPOCHS (default 1): epochs timed per tool.
# Needs: make release; ASSAY_SETUP_PEERS=1 bash scripts/setup.sh (python3-torch, jq, bc).
set -euo pipefail
cd "$(dirname "$0")/.."
ASSAY=./build/release/assay PEAK=./build/release/sgemm_peak P=/usr/bin/python3
D=${DATA:-/usr/share/datasets/fashion-mnist}
[ -x "$ASSAY" ] && [ -x "$PEAK" ] || { echo "build first: make release" >&2; exit 1; }
export OMP_NUM_THREADS=2
MLP_EPOCHS=${MLP_EPOCHS:-3} CNN_EPOCHS=${CNN_EPOCHS:-1}
peak=$("$PEAK" 2)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); date: $(date -u +%Y-%m-%d)"
echo "cblas_sgemm peak (OpenBLAS, 2 threads, best of 512^3..4096^3): $peak GFLOP/s"
for arch in mlp cnn; do
  if [ $arch = mlp ]; then E=$MLP_EPOCHS; else E=$CNN_EPOCHS; fi
  j=$("$ASSAY" fit "$D/train-images-idx3-ubyte.gz" --labels "$D/train-labels-idx1-ubyte.gz" \
      --test "$D/t10k-images-idx3-ubyte.gz" --test-labels "$D/t10k-labels-idx1-ubyte.gz" \
      --model $arch --epochs "$E" --batch-size 64 --threads 2 --db none --out /tmp/bench_nn.assay --json)
  a_s=$(jq -r ".training.seconds / .training.epochs" <<<"$j")
  a_g=$(jq -r ".training.gflops" <<<"$j")
  a_acc=$(jq -r ".metrics.test.accuracy" <<<"$j")
  t_dl=$($P bench/torch_epoch.py $arch --epochs "$E" --batch 64 --threads 2 --loader dataloader --data "$D" | tail -1)
  t_sl=$($P bench/torch_epoch.py $arch --epochs "$E" --batch 64 --threads 2 --loader slice --data "$D" | tail -1)
  dl_s=$(sed 's/.*epoch_seconds=\([^ ]*\).*/\1/' <<<"$t_dl"); dl_acc=$(sed 's/.*test_accuracy=\([^ ]*\).*/\1/' <<<"$t_dl")
  sl_s=$(sed 's/.*epoch_seconds=\([^ ]*\).*/\1/' <<<"$t_sl")
  printf '%s (%d epoch(s), batch 64): assay %.2f s/epoch, %.1f GFLOP/s (%.0f%% of sgemm peak), test acc %.4f\n' \
    $arch "$E" "$a_s" "$a_g" "$(echo "100 * $a_g / $peak" | bc -l)" "$a_acc"
  printf '    PyTorch DataLoader %.2f s/epoch (assay x%.2f faster), test acc %.4f; PyTorch slicing loop %.2f s/epoch (assay x%.2f)\n' \
    "$dl_s" "$(echo "$dl_s / $a_s" | bc -l)" "$dl_acc" "$sl_s" "$(echo "$sl_s / $a_s" | bc -l)"
done
