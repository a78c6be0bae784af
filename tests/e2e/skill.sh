#!/usr/bin/env bash
# skill.sh — the skill adapter through real processes: capgate serve with REST, MCP, skill
# and control adapters (tests/e2e/fixtures/surfaces_env.bash). The catalog, a skill's
# frontmatter and tools (derived from the REST operation and the MCP tool, with their input
# schemas, and an instruction file), the files under the skill's location, served safely
# (no escape by .., encoded dots or a symlink), and 404/405 problems. Then serve with a spec
# that has only a skill adapter, and a port clash refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/surfaces_env.bash"
ln -s /etc "$E2E_TMP/surfaces/skills/fleet-ops/etc-link"
ln -s /etc/passwd "$E2E_TMP/surfaces/skills/fleet-ops/passwd-link"

http GET "$SKILL/skills"
check "catalog: 200 JSON" "200 application/json" "$HTTP_STATUS $(header Content-Type)"
check_json "catalog: count and the skills in spec order with their tool names" \
  '.count==2 and [.skills[].name]==["fleet-ops","notes"] and .skills[0].tools==["get-ship","get-ship-mcp","guide"] and .skills[0].license=="Apache-2.0" and .skills[1].tools==[] and (.skills[1]|has("license")|not)' "$HTTP_BODY"

http GET "$SKILL/skills/fleet-ops"
check "detail: 200" 200 "$HTTP_STATUS"
check_json "detail: the frontmatter fields" \
  '.name=="fleet-ops" and .description=="Look ships up" and .license=="Apache-2.0" and .compatibility=="capgate" and ."allowed-tools"=="get-ship" and ."argument-hint"=="an IMO number" and ."user-invocable"==true and ."disable-model-invocation"==false and .metadata=={"owner":"fleet-team"}' "$HTTP_BODY"
check_json "detail: a tool derived from the REST operation, with its input schema" \
  '.tools[0]|.type=="derived" and .invocationRef=={"targetNamespace":"shipyard","action":"get-ship","mode":"rest"} and .inputSchema.properties.imo.type=="string" and .inputSchema.type=="object" and .inputSchema.additionalProperties==false' "$HTTP_BODY"
check_json "detail: a tool derived from the MCP tool, with its argument's description" \
  '.tools[1]|.type=="derived" and .invocationRef.mode=="mcp" and .invocationRef.targetNamespace=="shipyard-tools" and .inputSchema.properties.imo.description=="The IMO number" and .inputSchema.required==["imo"]' "$HTTP_BODY"
check_json "detail: an instruction tool" '.tools[2]=={"name":"guide","description":"How to use it","type":"instruction","instruction":"SKILL.md"}' "$HTTP_BODY"
http GET "$SKILL/skills/notes"
check_json "detail: a descriptive skill has no tools and no optional fields" '.tools==[] and keys==["description","name","tools"]' "$HTTP_BODY"
http GET "$SKILL/skills/unknown"
check "unknown skill: 404 problem+json" "404 application/problem+json" "$HTTP_STATUS $(header Content-Type)"
check_json "unknown skill: the reference engine's wording" '.detail=="Skill not found: unknown"' "$HTTP_BODY"

# ---- the location's files ---------------------------------------------------------------
http GET "$SKILL/skills/fleet-ops/contents"
check_json "contents: regular files only, sorted, with size and media type (symlinks left out)" \
  "[.files[].path]==[\"SKILL.md\",\"docs/guide.md\"] and .files[0].size==$(stat -c %s "$E2E_TMP/surfaces/skills/fleet-ops/SKILL.md") and .files[1].type==\"text/markdown\" and .name==\"fleet-ops\"" "$HTTP_BODY"
http GET "$SKILL/skills/fleet-ops/contents/docs/guide.md"
check "a file: 200 text/markdown" "200 text/markdown" "$HTTP_STATUS $(header Content-Type)"
check "a file: its bytes" "$(cat "$E2E_TMP/surfaces/skills/fleet-ops/docs/guide.md")" "$HTTP_BODY"
http GET "$SKILL/skills/fleet-ops/contents/../../../../etc/passwd" --path-as-is
check ".. in the path: 400" 400 "$HTTP_STATUS"
http GET "$SKILL/skills/fleet-ops/contents/docs/%2e%2e/%2e%2e/%2e%2e/surfaces.yaml" --path-as-is
check "encoded .. in the path: 400" 400 "$HTTP_STATUS"
http GET "$SKILL/skills/fleet-ops/contents/docs%2f..%2f..%2fsurfaces.yaml" --path-as-is
check "an encoded slash does not smuggle ..: one literal name, not found" 404 "$HTTP_STATUS"
http GET "$SKILL/skills/fleet-ops/contents/passwd-link"
check "a symlink to a file outside: 404" 404 "$HTTP_STATUS"
http GET "$SKILL/skills/fleet-ops/contents/etc-link/passwd"
check "a symlinked directory: 404" 404 "$HTTP_STATUS"
check_contains "nothing of /etc/passwd ever served" "Not Found" "$HTTP_BODY"
http GET "$SKILL/skills/fleet-ops/contents/nope.md"
check "a missing file: 404" 404 "$HTTP_STATUS"
http GET "$SKILL/skills/notes/contents"
check_json "contents of a skill without location: 404 saying so" '.status==404 and (.detail|test("No location"))' "$HTTP_BODY"
http POST "$SKILL/skills" --data-binary '{}'
check "POST: 405 (read-only)" 405 "$HTTP_STATUS"
http GET "$SKILL/skills/fleet-ops/download"
check "download: 501 (no archives)" 501 "$HTTP_STATUS"
http GET "$SKILL/other"
check "another path: 404" 404 "$HTTP_STATUS"
http GET "$REST/ships/IMO-9321483"
check "the REST adapter still serves beside it" 200 "$HTTP_STATUS"
kill -TERM "$CG_PID"; wait "$CG_PID" 2>/dev/null

# ---- a spec with only a skill adapter; a port clash ---------------------------------------
cat >"$E2E_TMP/only-skill.yaml" <<'YAML'
naftiko: 1.0.0-alpha2
info: {label: Only skills}
capability:
  exposes:
  - type: skill
    namespace: s
    port: 18095
    skills:
    - {name: alone, description: Nothing else here}
YAML
cg_start serve --threads 1 "$E2E_TMP/only-skill.yaml"
ONLY=$CG_PID P=$CG_SKILL_PORT
http GET "http://127.0.0.1:$P/skills"
check_json "a skill-only spec is served" '.count==1 and .skills[0].name=="alone"' "$HTTP_BODY"
kill -TERM "$ONLY"; wait "$ONLY" 2>/dev/null
sed 's/port: 18095/port: 18096/' "$E2E_TMP/only-skill.yaml" >"$E2E_TMP/clash.yaml"
printf '  - type: control\n    port: 18096\n' >>"$E2E_TMP/clash.yaml"
out=$("$CAPGATE" serve --threads 1 "$E2E_TMP/clash.yaml" 2>&1); rc=$?
check "two adapters on one port: refused with exit 2" 2 "$rc"
check_contains "two adapters on one port: said so" "both use port 18096" "$out"
e2e_done
