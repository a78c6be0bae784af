#!/usr/bin/env bash
# Runs each cmocka test program given as an argument and prints one closing line:
# "unit: N passed, N failed" (counting test programs' test cases).
set -u
passed=0; failed=0; bad=()
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | tail -1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ "$rc" -ne 0 ]; then bad+=("$(basename "$t")"); [ -z "$f" ] && failed=$((failed + 1)); fi
done
[ ${#bad[@]} -gt 0 ] && echo "failing unit programs: ${bad[*]}"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#bad[@]} -eq 0 ]
