#!/usr/bin/env bash
# Prints docs/naftiko-corpus.md's table: `capgate validate` on every public spec in
# ../shared/reference/naftiko/corpus (each from its own directory, so relative imports and
# file:///./ binds resolve as their authors meant), with capgate's first message for the
# ones it refuses.   scripts/naftiko-corpus-table.sh [CORPUS_DIR] > docs/naftiko-corpus-table.md
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$root/../shared/reference/naftiko/corpus}
capgate=${CAPGATE_BIN:-$root/build/capgate}
ok=0; bad=0; rows=()
while IFS= read -r f; do
  rel=${f#"$corpus"/}
  out=$(cd "$(dirname "$f")" && "$capgate" validate "$(basename "$f")" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then
    ok=$((ok + 1)); rows+=("| \`$rel\` | ok | ${out#*: ok } |")
  else
    bad=$((bad + 1)); n=$(printf '%s\n' "$out" | grep -c .)
    first=$(printf '%s\n' "$out" | head -1 | sed 's/|/\\|/g')
    rows+=("| \`$rel\` | refused ($n) | ${first} |")
  fi
done < <(find "$corpus" -name '*.y*ml' | sort)
echo "capgate $("$capgate" --version 2>/dev/null | head -1): **$ok of $((ok + bad))** files validate."
echo
echo "| file | result | capgate says |"
echo "|---|---|---|"
printf '%s\n' "${rows[@]}"
