#!/usr/bin/env bash
# The spec-inspection commands through the real binary: exit codes, messages, output.
. "$(dirname "$0")/lib.sh"
cd "$E2E_ROOT"
SPEC=capabilities/label-studio-ml.yaml
CORPUS=tests/unit/spec_corpus

# The seed's sha256, so the check holds even where ../shared is absent.
check "shipped capability is the seed, unchanged" 7c0ef2f7cf8cd5f4579228ecdbcaa4228f706725a39ad4f116fd9b9304934efc "$(sha256sum "$SPEC" | cut -d' ' -f1)"
if [ -f ../shared/seed/label-studio-ml.yaml ]; then
  cmp -s "$SPEC" ../shared/seed/label-studio-ml.yaml; check "shipped capability is byte-identical to ../shared/seed" 0 "$?"
fi

out=$("$CAPGATE" validate "$SPEC"); rc=$?
check "validate: shipped spec exits 0" 0 "$rc"
check "validate: shipped spec summary" \
  "$SPEC: ok (9 consumed operations, 9 REST operations on 6 routes, 9 MCP tools)" "$out"

err=$("$CAPGATE" validate "$SPEC" "$CORPUS/many-errors.yaml" "$CORPUS/yaml-syntax.yaml" 2>&1 >/dev/null); rc=$?
check "validate: any invalid file exits 1" 1 "$rc"
check "validate: every message of every file, in order" \
  "$(sed "s|^|$CORPUS/|" "$CORPUS/many-errors.err"; sed "s|^|$CORPUS/|" "$CORPUS/yaml-syntax.err")" "$err"

err=$("$CAPGATE" validate no/such.yaml 2>&1); rc=$?
check "validate: missing file exits 1" 1 "$rc"
check "validate: missing file names it" "no/such.yaml: cannot read: No such file or directory" "$err"

"$CAPGATE" validate >/dev/null 2>&1; check "validate: no file is a usage error" 2 "$?"
err=$("$CAPGATE" validate --frobnicate "$SPEC" 2>&1); rc=$?
check "validate: unknown flag exits 2" 2 "$rc"
check "validate: unknown flag one-line error" "capgate validate: unknown option '--frobnicate' (see --help)" "$(head -1 <<<"$err")"
check_contains "validate: unknown flag shows usage" "usage: capgate validate FILE|DIR..." "$err"

tools=$("$CAPGATE" tools "$SPEC"); rc=$?
check "tools: exits 0" 0 "$rc"
check "tools: the 9 tool names in spec order" \
  "list-ml-backends add-ml-backend get-ml-backend remove-ml-backend update-ml-backend request-interactive-annotation create-predictions-all-tasks train get-model-versions" \
  "$(jq -r '[.[].name] | join(" ")' <<<"$tools")"
check_json "tools: remove-ml-backend is destructive and idempotent" \
  '.[] | select(.name=="remove-ml-backend") | .annotations == {"readOnlyHint":false,"destructiveHint":true,"idempotentHint":true}' "$tools"
check_json "tools: get-ml-backend requires an integer id" \
  '.[] | select(.name=="get-ml-backend") | .inputSchema.required == ["id"] and .inputSchema.properties.id.type == "integer"' "$tools"
check_json "tools: predictions take an optional integer batch_size" \
  '.[] | select(.name=="create-predictions-all-tasks") | .inputSchema.properties.batch_size.type == "integer" and (.inputSchema.required == ["id"])' "$tools"
check_json "tools: update takes an object body" \
  '.[] | select(.name=="update-ml-backend") | .inputSchema.properties.body.type == "object"' "$tools"
check_json "tools: credentials never appear as arguments" \
  '[.[].inputSchema.properties // {} | has("Authorization")] | any | not' "$tools"
check_json "tools: no \$ref anywhere" '[.. | objects | has("$ref")] | any | not' "$tools"
check "tools: default file is the shipped capability" "$tools" "$("$CAPGATE" tools)"

routes=$("$CAPGATE" routes "$SPEC"); rc=$?
check "routes: exits 0" 0 "$rc"
check "routes: 9 routes listed" 9 "$(grep -c '^[A-Z]' <<<"$routes")"
check_contains "routes: predict maps to the upstream with batch_size" \
  "-> POST http://localhost:8000/api/ml/{id}/predict?batch_size={batch_size}" "$routes"

"$CAPGATE" tools "$CORPUS/duplicate-tool.yaml" >/dev/null 2>&1; check "tools: invalid spec exits 1" 1 "$?"
check "--version" "capgate $(cat VERSION)" "$("$CAPGATE" --version)"
"$CAPGATE" --help | grep -q '^  validate'; check "--help lists commands" 0 "$?"
"$CAPGATE" tools --help | grep -q 'usage: capgate tools'; check "tools --help" 0 "$?"
err=$("$CAPGATE" frobnicate 2>&1); rc=$?
check "unknown command exits 2" 2 "$rc"
check "unknown command one-line error" "capgate: unknown command 'frobnicate'" "$(head -1 <<<"$err")"
e2e_done
