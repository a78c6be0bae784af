-- mlbackend-predict.lua — wrk script: POSTs the JSON body in $BODY_FILE to the URL given.
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

-- Non-2xx/3xx answers are reported, so a broken run cannot pass for a fast one.
function done(summary, latency, requests)
  io.write(string.format("non-200 answers: %d\n", summary.errors.status))
end
