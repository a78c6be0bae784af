#!/usr/bin/env bash
# fuzz/run.sh SECONDS TARGET... — runs each libFuzzer target for SECONDS on a scratch copy
# of its seed corpus (fuzz/corpus/NAME; the repo's corpus is only read). A crash leaves
# its input in build-fuzz/crashes/NAME/ and fails the run; add it to the corpus and a
# regression test once fixed. Prints "fuzz: N passed, N failed".
set -u
secs=$1; shift
passed=0; failed=0
for bin in "$@"; do
  name=$(basename "$bin"); name=${name#fuzz_}
  work=$(mktemp -d); crashes="build-fuzz/crashes/$name"; mkdir -p "$crashes"
  echo "== fuzz $name for ${secs}s"
  dict=(); [ -f "fuzz/fuzz_$name.dict" ] && dict=(-dict="fuzz/fuzz_$name.dict")
  # fuzz/fuzz_NAME.options: extra libFuzzer flags, one per line
  [ -f "fuzz/fuzz_$name.options" ] && while read -r o; do dict+=("$o"); done <"fuzz/fuzz_$name.options"
  if "$bin" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$crashes/" "$work" "fuzz/corpus/$name" >"$work.log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$work.log" | tail -2
    passed=$((passed + 1))
  else
    tail -40 "$work.log"
    echo "fuzz $name FAILED: inputs in $crashes"
    failed=$((failed + 1))
  fi
  rm -rf "$work" "$work.log"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
