#!/usr/bin/env bash
# Runs every end-to-end test (tests/e2e/*.sh, each an executable script) and prints
# "e2e: N passed, N failed" counting checks. A script reports each check as a line
# "ok - ..." or "not ok - ..." (see tests/e2e/lib.sh) and exits non-zero on any failure.
# E2E_ONLY=name runs the scripts whose file name contains name.
set -u
cd "$(dirname "$0")/.." || exit 1
passed=0; failed=0; bad=()
for t in tests/e2e/*.sh; do
  [ "$(basename "$t")" = lib.sh ] && continue
  [ -n "${E2E_ONLY:-}" ] && [[ "$t" != *"$E2E_ONLY"* ]] && continue
  echo "== $t"
  log=$(mktemp)
  timeout 900 bash "$t" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  p=$(grep -c '^ok - ' "$log"); f=$(grep -c '^not ok - ' "$log")
  rm -f "$log"
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$rc" -ne 0 ]; then bad+=("$t (exit $rc)"); [ "$f" -eq 0 ] && failed=$((failed + 1)); fi
done
[ ${#bad[@]} -gt 0 ] && printf 'failing e2e scripts: %s\n' "${bad[*]}"
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#bad[@]} -eq 0 ]
