-- soak.lua — wrk script for bench/soak.sh. `wrk ... -s bench/soak.lua URL -- rest|mcp`
--   rest: GET /v1/api/ml/{id}, GET /v1/api/ml?project=3, GET again, POST /v1/api/ml/{id}/train
--         in turn (ids 1..100); every answer must be 200 with exactly $SOAK_BODY
--   mcp:  tools/call get-ml-backend in the session $MCP_SESSION; every answer must be 200
--         and a result without isError
-- Bad answers (wrong status or body) are counted per thread and printed by done() as
-- "soak-bad N" (wrk's own "Non-2xx" line counts only statuses).
local kind, expect
local n, bad = 0, 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  kind = args[1] or "rest"
  expect = os.getenv("SOAK_BODY")
  if kind == "mcp" then
    dofile("bench/mcp-call.lua")   -- the tools/call request bench/mcp.sh measures (run from the root)
  end
end

function request()
  if kind ~= "rest" then return wrk.request() end
  n = n + 1
  local id = tostring(n % 100 + 1)
  local m = n % 4
  if m == 3 then
    return wrk.format("POST", "/v1/api/ml/" .. id .. "/train",
                      {["Content-Type"] = "application/json"}, '{"epochs":1}')
  elseif m == 1 then
    return wrk.format("GET", "/v1/api/ml?project=3")
  end
  return wrk.format("GET", "/v1/api/ml/" .. id)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  elseif kind == "rest" then
    if expect and body ~= expect then bad = bad + 1 end
  elseif not body:find('"result"', 1, true) or body:find('"isError":true', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("bad") or 0) end
  io.write(string.format("soak-bad %d\n", total))
end
