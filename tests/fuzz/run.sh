#!/usr/bin/env bash
# run.sh SECONDS - build the libFuzzer targets (clang) and run each for SECONDS on its seed
# corpus. A crash, a leak or a sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
cmake --preset fuzz >/dev/null
targets=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
# shellcheck disable=SC2086
cmake --build --preset fuzz -j "$(nproc)" --target $targets
status=0
for target in build/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  corpus=tests/fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  echo "fuzz: $name for ${secs}s"
  if ! "$target" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=0 "$work" >"$work.log" 2>&1; then
    tail -40 "$work.log"
    echo "fuzz: $name FAILED"
    status=1
  else
    grep -E '^Done|^#[0-9]+.*DONE' "$work.log" | tail -1 || true
  fi
  rm -rf "$work" "$work.log"
done
exit $status
