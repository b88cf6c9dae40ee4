-- wrk script: streamed POST /v1/messages through Sluice at a fixed concurrency.
-- The key comes from SLUICE_BENCH_KEY. Each response body is checked for `event: message_stop`, so a
-- 200 that ended with `event: error` (or was cut) is counted as incomplete instead of as a success.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.headers["x-api-key"] = os.getenv("SLUICE_BENCH_KEY")
wrk.body = '{"model":"claude-opus-4-8","max_tokens":256,"stream":true,'
  .. '"messages":[{"role":"user","content":"benchmark request"}]}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  complete = 0
  incomplete = 0
end

function response(status, headers, body)
  if status == 200 and body:find("event: message_stop", 1, true) then
    complete = complete + 1
  else
    incomplete = incomplete + 1
  end
end

function done(summary, latency, requests)
  local c, i = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("complete")
    i = i + t:get("incomplete")
  end
  io.write(string.format("BENCH complete=%d incomplete=%d\n", c, i))
  io.write(string.format("BENCH requests=%d duration_us=%d\n", summary.requests, summary.duration))
  io.write(string.format("BENCH errors_connect=%d errors_read=%d errors_status=%d errors_timeout=%d\n",
    summary.errors.connect, summary.errors.read, summary.errors.status, summary.errors.timeout))
  io.write(string.format("BENCH p50_us=%d p99_us=%d\n", latency:percentile(50), latency:percentile(99)))
end
