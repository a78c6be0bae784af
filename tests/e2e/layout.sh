#!/usr/bin/env bash
# src/'s layout rules, checked on the tree itself (no process is started):
#  - no dependency cycle among src/ modules (a module = NAME.c + NAME.h; NAME_int.h and
#    NAME_internal.h count as NAME), measured on the #include "..." lines with tsort;
#  - a src/**/*.c over 800 lines says why in its opening comment, on a line starting
#    "Long because" or "Size:".
# Each rule is also run on a small tree that breaks it, so the check itself can fail.
. "$(dirname "$0")/lib.sh"
cd "$E2E_ROOT"

# module_edges ROOT — "from to" lines, one per module-level #include between two modules
module_edges() {
  local root=$1 f u d
  find "$root" -name '*.[ch]' | while read -r f; do
    u=${f%.*}; u=${u#"$root"/}; u=${u%_int}; u=${u%_internal}
    grep -oE '#include "[a-z_/0-9]+\.h"' "$f" | sed -E 's/#include "(.*)\.h"/\1/' |
      while read -r d; do
        d=${d%_int}; d=${d%_internal}
        [ "$d" != "$u" ] && echo "$u $d"
      done
  done | sort -u
}

# cycles ROOT — what tsort says about the loops among ROOT's modules (empty when none)
cycles() {
  module_edges "$1" > "$E2E_TMP/edges"
  tsort "$E2E_TMP/edges" 2>&1 >/dev/null | sed "s|$E2E_TMP/edges|modules|"
}

# long_without_reason ROOT — each .c over 800 lines whose opening comment gives no reason
long_without_reason() {
  find "$1" -name '*.c' | sort | while read -r f; do
    [ "$(wc -l < "$f")" -le 800 ] && continue
    # the opening comment: from the first line to the first "*/"
    sed -n '1,/\*\//p' "$f" | grep -qE '^ *\*? *(Long because|Size:)' ||
      echo "$f: $(wc -l < "$f") lines, and its opening comment does not say why"
  done
}

out=$(cycles src)
if [ -z "$out" ]; then ok "no dependency cycle among src/ modules"
else not_ok "no dependency cycle among src/ modules" "$out"; fi

out=$(long_without_reason src)
if [ -z "$out" ]; then ok "every src/ file over 800 lines says why at its top"
else not_ok "every src/ file over 800 lines says why at its top" "$out"; fi

# The rules on trees that break them: the checks must notice.
bad=$E2E_TMP/bad/src
mkdir -p "$bad/a" "$bad/b"
echo '#include "b/low.h"' > "$bad/a/up.h"
printf '#include "a/up.h"\n' > "$bad/b/low_int.h"
printf '#include "b/low_int.h"\n' > "$bad/b/low.c"
out=$(cycles "$bad")
check_contains "a cycle through a _int.h header is found" "b/low" "$out"
check_contains "the cycle is printed with both modules" "a/up" "$out"

{ echo '/* long.c — a file with no reason given. */'; seq 1 810 | sed 's|.*|/* & */|'; } > "$bad/a/long.c"
{ echo '/*'; echo ' * ok.c — a long file.'; echo ' *'; echo ' * Long because: it is a test.'; echo ' */'
  seq 1 810 | sed 's|.*|/* & */|'; } > "$bad/a/ok.c"
{ echo '/* late.c — the reason comes after the opening comment. */'; echo '/* Size: too late */'
  seq 1 810 | sed 's|.*|/* & */|'; } > "$bad/a/late.c"
out=$(long_without_reason "$bad")
check "only the long files without a reason at their top are reported" \
  "$bad/a/late.c $bad/a/long.c" "$(printf '%s\n' "$out" | cut -d: -f1 | sort | tr '\n' ' ' | sed 's/ $//')"

e2e_done
