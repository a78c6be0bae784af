#!/usr/bin/env bash
# credentials.sh — per-API credentials and inbound authentication through real processes:
# capgate serve / capgate mcp in front of auth-upstream.js, which records every request and
# checks each scheme for real (digest recomputed, client credentials verified, JWTs minted).
# Outbound: apikey in a custom header, in the query, and on Authorization (as written: no
# Label Studio prefix off the Label Studio profile), bearer, basic, digest MD5 and SHA-256
# (challenge, then answered; nonce reused with nc counting; stale nonce re-answered), oauth2
# client credentials (one fetch, reused, one refetch after a 401); the Label Studio profile
# only for label-studio* namespaces and --profile NS=label-studio; a caller's Authorization
# never replaces a custom-header key. Inbound: apikey and oauth2 (JWT against the JWKS
# discovered from the authorization server) on REST, bearer and oauth2 on MCP, refusing
# missing, expired, wrong-audience, wrong-issuer and tampered tokens with 401 and
# forwarding nothing; the RFC 9728 metadata document and its WWW-Authenticate pointer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures/mcp_env.bash"
recording_start auth-upstream.js || exit 1
U="http://127.0.0.1:$FIX_PORT"
SPEC="$E2E_TMP/creds.yaml"
JWT="eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsImV4cCI6MTkwMDAwMDAwMH0.c2lnbmF0dXJl"

# consumes NS PATH-PREFIX AUTH-YAML : one consumed API with GET and POST /PREFIX/item
consumes() {
  cat <<EOF
  - type: http
    namespace: $1
    baseUri: $U
    resources:
    - name: item
      path: /$2/item
      operations:
      - name: get
        method: GET
        inputParameters:
        - name: q
          in: query
      - name: post
        method: POST
        inputParameters:
        - name: body
          in: body
          type: object
$3
EOF
}
route() {
  cat <<EOF
    - path: /v1/$1
      name: r-$1
      operations:
      - method: GET
        name: get-$1
        call: $1.get
        with:
          q: rest.q
      - method: POST
        name: post-$1
        call: $1.post
        with:
          body: rest.body
EOF
}
NSS="dock qkey rawauth jwtkey bear bas dmd5 dsha oa oashort label-studio-x lsish predictor label-studio-slow"
{
  cat <<EOF
naftiko: 1.0.0-alpha2
info:
  label: Credentials
  description: every credential kind against the auth upstream
binds:
- namespace: env
  keys:
    DOCK_KEY: DOCK_KEY
    OA_SECRET: OA_SECRET
capability:
  consumes:
EOF
  consumes dock any "    authentication: {type: apikey, key: X-Dock-Key, value: '{{DOCK_KEY}}'}"
  consumes qkey any "    authentication: {type: apikey, key: api_key, value: q-secret, placement: query}"
  consumes rawauth any "    authentication: {type: apikey, key: Authorization, value: raw-key-1}"
  consumes jwtkey any "    authentication: {type: apikey, key: Authorization, value: $JWT}"
  consumes predictor slow/predict ""
  consumes label-studio-slow slow/predict ""
  consumes bear any "    authentication: {type: bearer, token: bear-tok}"
  consumes bas any "    authentication: {type: basic, username: bas-user, password: 'bas:pass'}"
  consumes dmd5 digest-md5 "    authentication: {type: digest, username: dig-user, password: dig-pass}"
  consumes dsha digest-sha256 "    authentication: {type: digest, username: dig-user, password: dig-pass}"
  consumes oa oauth-api "    authentication: {type: oauth2, tokenEndpoint: '$U/oauth/token', clientId: oa-client, clientSecret: '{{OA_SECRET}}', authorizationServerUri: '$U', resource: 'http://api.example'}"
  consumes oashort oauth-api "    authentication: {type: oauth2, tokenEndpoint: '$U/oauth/token?ttl=4', clientId: oa-client, clientSecret: '{{OA_SECRET}}', scopes: [read, write]}"
  consumes label-studio-x ls "    authentication: {type: apikey, key: Authorization, value: ls-legacy}"
  consumes lsish lsish "    authentication: {type: apikey, key: Authorization, value: ls-legacy-2}"
  cat <<EOF
  exposes:
  - type: rest
    namespace: creds-rest
    port: 8080
    resources:
EOF
  for ns in $NSS; do route "$ns"; done
} >"$SPEC"

serve() {  # serve NAME SPEC [ARGS...] : sets REST, MCP_URL, CG_PID, CG_LOG
  local name=$1 spec=$2; shift 2
  CG_NAME=$name cg_start -u LABEL_STUDIO_URL -u CAPGATE_API_TOKENS -u CAPGATE_API_TOKENS_FILE \
    DOCK_KEY=dock-secret OA_SECRET=oa-secret MCP_TOK=mcp-bearer-1 IN_KEY=in-key-1 \
    serve --threads 2 "$@" "$spec"
  REST="http://127.0.0.1:$CG_REST_PORT" MCP_URL="http://127.0.0.1:$CG_MCP_PORT/mcp"
}
stop() {  # SIGTERM; the process must exit 0 with no sanitizer report (make test-asan)
  kill -TERM "$CG_PID" 2>/dev/null; wait "$CG_PID" 2>/dev/null; local rc=$?
  check "$(basename "$CG_LOG" .log): exits 0 on SIGTERM, no sanitizer report" "0 0" \
    "$rc $(grep -c 'Sanitizer' "$CG_LOG")"
}
last() { tail -1 "$REC"; }
hdr_of() { jq -r ".headers[\"$1\"] // \"(none)\"" <<<"$2"; }

# one worker: the digest nonce and the OAuth2 token are cached per worker
serve out "$SPEC" --profile lsish=label-studio --threads 1 --timeout 1000 --long-timeout 5000
# ---- apikey, bearer, basic ---------------------------------------------------------------
http GET "$REST/v1/dock?q=1" -H "Authorization: Token caller-own"
check "apikey X-Dock-Key: 200" 200 "$HTTP_STATUS"
check "apikey X-Dock-Key: the key arrives in its header" "dock-secret" "$(hdr_of x-dock-key "$(last)")"
check "apikey X-Dock-Key: a caller's Authorization does not replace it, nor is forwarded" "(none)" "$(hdr_of authorization "$(last)")"
http GET "$REST/v1/qkey?q=1"
check "apikey in the query: arrives as api_key=" "/any/item?q=1&api_key=q-secret" "$(jq -r .url <<<"$(last)")"
http GET "$REST/v1/rawauth"
check "apikey on Authorization, not Label Studio: as written, no Token prefix" "raw-key-1" "$(hdr_of authorization "$(last)")"
http GET "$REST/v1/rawauth" -H "Authorization: Bearer callers-own"
check "apikey on Authorization: a caller's Authorization replaces it (same header)" "Bearer callers-own" "$(hdr_of authorization "$(last)")"
http GET "$REST/v1/bear"
check "bearer: Authorization: Bearer <token>" "Bearer bear-tok" "$(hdr_of authorization "$(last)")"
http GET "$REST/v1/bas"
check "basic: Authorization: Basic base64(user:pass)" "Basic $(printf 'bas-user:bas:pass' | base64)" "$(hdr_of authorization "$(last)")"
http GET "$REST/v1/jwtkey"
check "a JWT-looking apikey off the Label Studio profile: sent as written, never exchanged" "$JWT|0" \
  "$(hdr_of authorization "$(last)")|$(grep -c 'token/refresh' "$REC")"
http GET "$REST/v1/predictor"
check "an operation on a 'predict' path off the Label Studio profile: the normal timeout (504 after 1 s)" 504 "$HTTP_STATUS"
http GET "$REST/v1/label-studio-slow"
check "the same under the Label Studio profile: the long timeout (200 after 1.5 s)" 200 "$HTTP_STATUS"
# ---- Label Studio profile --------------------------------------------------------------------
http GET "$REST/v1/label-studio-x"
check "Label Studio profile (namespace label-studio-*): Token prefix" "Token ls-legacy" "$(hdr_of authorization "$(last)")"
http GET "$REST/v1/lsish"
check "Label Studio profile by --profile lsish=label-studio: Token prefix" "Token ls-legacy-2" "$(hdr_of authorization "$(last)")"
# ---- digest ------------------------------------------------------------------------------------
for alg in md5 sha; do
  B=$(records)
  http GET "$REST/v1/d$alg?q=x"
  check "digest $alg: 200 after the challenge" 200 "$HTTP_STATUS"
  check "digest $alg: two requests upstream (challenge, answer)" 2 "$(($(records) - B))"
  check "digest $alg: the first went without credentials and got 401" "(none) 401" "$(sed -n "$((B + 1))p" "$REC" | jq -r '(.headers.authorization // "(none)") + " " + (.status|tostring)')"
  check_contains "digest $alg: the answer has qop=auth, nc=00000001, the opaque" 'qop=auth, nc=00000001' "$(hdr_of authorization "$(last)")"
  B=$(records)
  http POST "$REST/v1/d$alg" -H 'Content-Type: application/json' -d '{"a":1}'
  check "digest $alg: a later POST answers the cached nonce at once (one request)" "1 200" "$(($(records) - B)) $(jq -r .status <<<"$(last)")"
  check_contains "digest $alg: nc counts up" 'nc=00000002' "$(hdr_of authorization "$(last)")"
  check "digest $alg: the POST body arrived" '{"a":1}' "$(jq -r .body <<<"$(last)")"
  http GET "$REST/v1/d$alg"; http GET "$REST/v1/d$alg"   # 3rd use ok, 4th: stale -> re-answered
  check "digest $alg: a stale nonce is answered again: 200" 200 "$HTTP_STATUS"
done
check_contains "digest sha: algorithm=SHA-256" 'algorithm=SHA-256' "$(hdr_of authorization "$(last)")"
# ---- oauth2 client credentials ---------------------------------------------------------------
B=$(records)
http GET "$REST/v1/oa"
check "oauth2: 200 with the fetched token" 200 "$HTTP_STATUS"
check "oauth2: the token endpoint was asked first, then the API with Bearer at-1" "POST /oauth/token|Bearer at-1" \
  "$(sed -n "$((B + 1))p" "$REC" | jq -r '.method + " " + .url')|$(hdr_of authorization "$(last)")"
check "oauth2: grant_type=client_credentials with the resource" "grant_type=client_credentials&resource=http%3A%2F%2Fapi.example" "$(sed -n "$((B + 1))p" "$REC" | jq -r .body)"
http GET "$REST/v1/oa"; http POST "$REST/v1/oa" -H 'Content-Type: application/json' -d '{}'
check "oauth2: the token is reused (one issued after three calls)" 1 "$(curl -s "$U/stats" | jq .tokens)"
N0=$(curl -s "$U/stats" | jq .tokens)
curl -s -X POST "$U/admin/revoke" >/dev/null
http GET "$REST/v1/oa"
check "oauth2: after a 401 the token is fetched once more and the call retried: 200" 200 "$HTTP_STATUS"
check "oauth2: exactly one more token fetched" "$((N0 + 1))" "$(curl -s "$U/stats" | jq .tokens)"
# a short-lived token (expires_in 4: used for 2 s) is fetched again once it runs out
N0=$(curl -s "$U/stats" | jq .tokens)
B=$(records)
http GET "$REST/v1/oashort"
check "oauth2 short-lived: 200" 200 "$HTTP_STATUS"
check "oauth2 short-lived: scope sent space-separated" "grant_type=client_credentials&scope=read+write" "$(sed -n "$((B + 1))p" "$REC" | jq -r .body)"
http GET "$REST/v1/oashort"
check "oauth2 short-lived: reused while fresh" "$((N0 + 1))" "$(curl -s "$U/stats" | jq .tokens)"
sleep 2.5
B=$(records)
http GET "$REST/v1/oashort"
check "oauth2 short-lived: after expiry a new token is fetched before the call (no 401 first)" "$((N0 + 2)) POST /oauth/token?ttl=4 200" \
  "$(curl -s "$U/stats" | jq .tokens) $(sed -n "$((B + 1))p" "$REC" | jq -r '.method + " " + .url') $(jq -r .status <<<"$(last)")"
check_contains "secrets never logged" "" "$(grep -E 'oa-secret|dig-pass|bear-tok|dock-secret' "$CG_LOG")"
stop

# ---- inbound: REST with oauth2 (JWKS discovered), MCP with bearer -----------------------------
RESOURCE="http://127.0.0.1/creds"
INSPEC="$E2E_TMP/inbound.yaml"
{
  cat <<EOF
naftiko: 1.0.0-alpha2
info:
  label: Inbound
  description: inbound authentication on the adapters
binds:
- namespace: env
  keys:
    MCP_TOK: MCP_TOK
    IN_KEY: IN_KEY
capability:
  consumes:
EOF
  consumes dock any "    authentication: {type: apikey, key: X-Dock-Key, value: dock-secret}"
  cat <<EOF
  exposes:
  - type: rest
    namespace: in-rest
    port: 8080
    authentication: {type: oauth2, authorizationServerUri: '$U', resource: '$RESOURCE', scopes: [read]}
    resources:
EOF
  route dock
  cat <<EOF
  - type: mcp
    namespace: in-mcp
    port: 9090
    authentication: {type: oauth2, authorizationServerUri: '$U', resource: '$RESOURCE'}
    tools:
    - name: get-dock
      description: get
      call: dock.get
EOF
} >"$INSPEC"
serve in "$INSPEC"
mint() { curl -s "$U/mint?$1" | jq -r .jwt; }
NOW=$(date +%s)
GOOD=$(mint "iss=$U&aud=$RESOURCE")
declare -A BAD=(
  [expired]="$(mint "iss=$U&aud=$RESOURCE&exp=$((NOW - 120))")"
  [wrong-audience]="$(mint "iss=$U&aud=http://other.example")"
  [wrong-issuer]="$(mint "iss=http://evil.example&aud=$RESOURCE")"
  [not-yet-valid]="$(mint "iss=$U&aud=$RESOURCE&nbf=$((NOW + 600))")"
  [signed-by-another-key]="$(mint "iss=$U&aud=$RESOURCE&key=other")"
  [tampered]="$(sed 's/\.\([A-Za-z0-9_-]*\)\./.\1x./' <<<"$GOOD")"
  [garbage]="not.a.jwt"
)
B=$(records)
http GET "$REST/v1/dock"
check "inbound oauth2 REST: no token: 401" 401 "$HTTP_STATUS"
check_contains "inbound oauth2: WWW-Authenticate names the resource metadata" "Bearer resource_metadata=\"http://127.0.0.1/.well-known/oauth-protected-resource/creds\"" "$(header WWW-Authenticate)"
for k in "${!BAD[@]}"; do
  http GET "$REST/v1/dock" -H "Authorization: Bearer ${BAD[$k]}"
  check "inbound oauth2 REST: $k token: 401" 401 "$HTTP_STATUS"
done
check_contains "inbound oauth2 REST: the refusal says why (invalid_token)" 'error="invalid_token"' "$(header WWW-Authenticate)"
check "inbound oauth2 REST: nothing forwarded on any refusal" "$B" "$(records)"
http GET "$REST/v1/dock" -H "Authorization: Bearer $GOOD"
check "inbound oauth2 REST: a good token: 200" 200 "$HTTP_STATUS"
check "inbound oauth2 REST: the inbound token is not forwarded upstream" "(none)" "$(hdr_of authorization "$(last)")"
http GET "$REST/v1/openapi.json" -H "Authorization: Bearer $GOOD"
printf '%s' "$HTTP_BODY" >"$E2E_TMP/openapi.json"
check_json "OpenAPI: the inbound oauth2 scheme, required on every operation" \
  '.components.securitySchemes.inbound.type=="oauth2" and .components.securitySchemes.inbound.flows.clientCredentials.scopes.read=="read" and ([.paths[][]|.security==[{"inbound":[]}] and .responses["401"]!=null]|all)' "$HTTP_BODY"
printf 'extends: ["spectral:oas"]\n' >"$E2E_TMP/ruleset.yaml"
(cd "$E2E_ROOT" && npx --no-install spectral lint --format json --fail-severity error \
   --ruleset "$E2E_TMP/ruleset.yaml" "$E2E_TMP/openapi.json") >"$E2E_TMP/spectral.json" 2>"$E2E_TMP/spectral.err"
check "OpenAPI with inbound security: spectral ran (a JSON report)" "[" "$(head -c1 "$E2E_TMP/spectral.json")"
check_json "OpenAPI with inbound security: spectral:oas reports zero errors" 'map(select(.severity==0))|length==0' "$(cat "$E2E_TMP/spectral.json")"
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}'
B=$(records)
mcp_post "$INIT"
check "inbound oauth2 MCP: no token: 401" 401 "$HTTP_STATUS"
check_contains "inbound oauth2 MCP: WWW-Authenticate Bearer resource_metadata" 'Bearer resource_metadata="' "$(header WWW-Authenticate)"
mcp_post "$INIT" -H "Authorization: Bearer ${BAD[expired]}"
check "inbound oauth2 MCP: expired token: 401" 401 "$HTTP_STATUS"
mcp_post "$INIT" -H "Authorization: Bearer ${BAD[tampered]}"
check "inbound oauth2 MCP: tampered token: 401" 401 "$HTTP_STATUS"
MCP_BASE=${MCP_URL%/mcp}
http GET "$MCP_BASE/.well-known/oauth-protected-resource/creds"
check "RFC 9728: the metadata document is served without a token" 200 "$HTTP_STATUS"
check_json "RFC 9728: resource and authorization_servers" ".resource==\"$RESOURCE\" and .authorization_servers==[\"$U\"]" "$HTTP_BODY"
mcp_post "$INIT" -H "Authorization: Bearer $GOOD"
check "inbound oauth2 MCP: a good token: 200" 200 "$HTTP_STATUS"
check "inbound oauth2 MCP: nothing forwarded upstream by the refusals" "$B" "$(records)"
stop
# the same adapter under the standalone `capgate mcp`
CG_NAME=mcp-standalone cg_start mcp "$INSPEC"
MCP_URL=$CG_URL
check_contains "capgate mcp: start-up says the adapter's oauth2 is on" "inbound auth: on, 0 tokens and the adapter's oauth2" "$(cat "$CG_LOG")"
mcp_post "$INIT" -H "Authorization: Bearer ${BAD[wrong-audience]}"
check "capgate mcp: wrong-audience token: 401" 401 "$HTTP_STATUS"
check_contains "capgate mcp: the refusal says why" "another audience" "$HTTP_BODY"
http GET "${MCP_URL%/mcp}/.well-known/oauth-protected-resource"
check_json "capgate mcp: RFC 9728 document at the bare well-known path too" ".resource==\"$RESOURCE\"" "$HTTP_BODY"
mcp_post "$INIT" -H "Authorization: Bearer $GOOD"
check "capgate mcp: a good token: 200" 200 "$HTTP_STATUS"
stop

# ---- inbound: REST apikey, MCP bearer (values from binds) -----------------------------------
sed -e "s|authentication: {type: oauth2, authorizationServerUri: '$U', resource: '$RESOURCE', scopes: \[read\]}|authentication: {type: apikey, key: X-In-Key, value: '{{IN_KEY}}'}|" \
    -e "s|authentication: {type: oauth2, authorizationServerUri: '$U', resource: '$RESOURCE'}|authentication: {type: bearer, token: '{{MCP_TOK}}'}|" "$INSPEC" >"$E2E_TMP/inbound2.yaml"
serve in2 "$E2E_TMP/inbound2.yaml"
B=$(records)
http GET "$REST/v1/dock"
check "inbound apikey REST: missing: 401" 401 "$HTTP_STATUS"
http GET "$REST/v1/dock" -H "X-In-Key: wrong"
check "inbound apikey REST: wrong key: 401" 401 "$HTTP_STATUS"
http GET "$REST/v1/dock" -H "Authorization: Bearer in-key-1"
check "inbound apikey REST: the key in another header does not count: 401" 401 "$HTTP_STATUS"
check "inbound apikey REST: nothing forwarded" "$B" "$(records)"
http GET "$REST/v1/dock" -H "X-In-Key: in-key-1"
check "inbound apikey REST: the bound key: 200" 200 "$HTTP_STATUS"
http GET "$REST/v1/openapi.json" -H "X-In-Key: in-key-1"
check_json "OpenAPI: the inbound apikey scheme, with the upstream Authorization optional beside it" \
  '.components.securitySchemes.inbound=={"type":"apiKey","in":"header","name":"X-In-Key"} and ([.paths[][]|.security==[{"inbound":[],"upstreamAuthorization":[]},{"inbound":[]}]]|all)' "$HTTP_BODY"
B=$(records)
mcp_post "$INIT"
check "inbound bearer MCP: missing: 401" 401 "$HTTP_STATUS"
mcp_post "$INIT" -H "Authorization: Bearer nope"
check "inbound bearer MCP: wrong: 401" 401 "$HTTP_STATUS"
mcp_post "$INIT" -H "Authorization: Bearer mcp-bearer-1"
check "inbound bearer MCP: the bound token: 200" 200 "$HTTP_STATUS"
check "inbound bearer MCP: nothing forwarded" "$B" "$(records)"
stop
# an unset bind for an inbound credential stops start-up
OUT=$(env -u IN_KEY -u MCP_TOK "$CAPGATE" serve --listen 127.0.0.1:0 --mcp-port 0 "$E2E_TMP/inbound2.yaml" 2>&1); RC=$?
check "inbound credential unbound: start-up refused (exit 2)" 2 "$RC"
check_contains "inbound credential unbound: says which variable" "IN_KEY" "$OUT"
# a --profile naming no consumed API is a typo: refused at start-up
OUT=$("$CAPGATE" serve --listen 127.0.0.1:0 --profile lsihs=label-studio "$SPEC" 2>&1); RC=$?
check "--profile naming no consumed API: exit 2 with the name" "2 yes" "$RC $(grep -q "no API named 'lsihs'" <<<"$OUT" && echo yes)"
OUT=$("$CAPGATE" mcp --port 0 --profile lsish=jira "$INSPEC" 2>&1); RC=$?
check "--profile with an unknown profile: exit 2 naming it" "2 yes" "$RC $(grep -q "unknown profile 'jira'" <<<"$OUT" && echo yes)"
e2e_done
