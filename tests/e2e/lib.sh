# lib.sh - helpers for the end-to-end tests: run the real binary, count checks.
# Usage in a test: source lib.sh; ASSAY=$1; SRC=$2; ...; finish
ASSAY=$(readlink -f "$1")
SRC=$(readlink -f "$2")
WORK=$(mktemp -d)
export ASSAY_DB="$WORK/assay.db"
cd "$WORK"
trap 'rm -rf "$WORK"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok; else bad "$what"; fi
}
# expect_error DESCRIPTION PATTERN COMMAND...: exit status 1, one line on stderr matching PATTERN
expect_error() {
  local what=$1 pattern=$2; shift 2
  local out status
  out=$("$@" 2>&1 >/dev/null); status=$?
  if [ "$status" -ne 1 ]; then bad "$what: exit status $status, expected 1 ($out)"; return; fi
  if [ "$(printf '%s\n' "$out" | grep -c .)" -ne 1 ]; then bad "$what: expected one line, got: $out"; return; fi
  if ! printf '%s' "$out" | grep -qE -- "$pattern"; then bad "$what: '$out' does not match '$pattern'"; return; fi
  echo "ok: $what: $out"
  ok
}
jqv() { jq -r "$1" "$2"; }
# near A B TOL: |A - B| <= TOL
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }
# gt A B: A > B
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
