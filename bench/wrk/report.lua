-- wrk script for bench/http.js: prints the results as one JSON line (latencies in µs).
-- With WRK_PACE_MS set, each connection waits that long between requests (a paced probe).
local pace = tonumber(os.getenv("WRK_PACE_MS"))
if pace then
  delay = function() return pace end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"socket_errors":%d,"status_errors":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
