#!/usr/bin/env bash
# tests/valgrind/summarize.sh [DIR] — reads the memcheck reports of a `make test-valgrind`
# run (default build/valgrind) and fails when any shows an error or a definite/indirect leak.
set -u
dir=${1:-build/valgrind}
n=0; bad=0
for f in "$dir"/capgate.*.log; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  # --quiet: a clean process writes nothing at all
  if grep -qE 'Invalid|uninitialised|definitely lost|indirectly lost|Mismatched|overlap|ERROR SUMMARY: [1-9]' "$f"; then
    bad=$((bad + 1)); echo "== $f"; head -60 "$f"
  fi
done
echo "valgrind: $n processes, $bad with errors or leaks"
[ "$n" -gt 0 ] && [ "$bad" -eq 0 ]
