#!/usr/bin/env bash
# setup.sh - install every Debian package assay needs to build, test and benchmark.
# Idempotent; run as root (or with sudo). Safe to run again: installed packages are skipped.
set -euo pipefail

# Build and run time.
PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev jq perl
      libopenblas-dev libpng-dev libjansson-dev libsqlite3-dev zlib1g-dev libutf8proc-dev libmicrohttpd-dev nettle-dev libdnnl-dev curl
      dataset-fashion-mnist chromium)
# Regenerating parity fixtures and running the benchmarks (not needed for the tests themselves).
if [ "${ASSAY_SETUP_PEERS:-0}" = 1 ]; then
  PKGS+=(python3 python3-sklearn python3-pandas python3-numpy python3-xgboost python3-torch time hyperfine bc
        fasttext wrk gunicorn python3-flask)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
