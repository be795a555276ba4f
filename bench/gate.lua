-- wrk script for bench/gate.sh: GET one API path with a bearer token, again
-- and again, counting the answers by status.
--
--   wrk -t2 -c16 -d10s -s bench/gate.lua http://127.0.0.1:3730 -- TOKEN PATH EXPECTED_STATUS
--
-- done() prints a `BENCH_RESULT` line that gate.sh reads (latencies in ms).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local token = args[1] or os.getenv("SHIPLOG_BENCH_TOKEN") or ""
  local path = args[2] or "/api/v1/gate?environment=production"
  expected = tonumber(args[3]) or 200
  req = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
  ok = 0
  other = 0
  statuses = {}
  first_error = nil
end

function request()
  return req
end

function response(status, _headers, body)
  if status == expected then
    ok = ok + 1
  else
    other = other + 1
    if first_error == nil then
      first_error = tostring(status) .. " " .. string.sub(body or "", 1, 300)
    end
  end
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, _requests)
  local total_ok, total_other = 0, 0
  local by_status = {}
  local first = nil
  for _, t in ipairs(threads) do
    total_ok = total_ok + (t:get("ok") or 0)
    total_other = total_other + (t:get("other") or 0)
    local s = t:get("statuses") or {}
    for k, v in pairs(s) do by_status[k] = (by_status[k] or 0) + v end
    if first == nil then first = t:get("first_error") end
  end
  local hist = {}
  for k, v in pairs(by_status) do hist[#hist + 1] = k .. "x" .. v end
  table.sort(hist)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d expected=%d unexpected=%d seconds=%.3f rps=%.1f "
      .. "p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
      .. "err_connect=%d err_read=%d err_write=%d err_timeout=%d statuses=%s\n",
    summary.requests, total_ok, total_other, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.timeout,
    (#hist > 0) and table.concat(hist, ",") or "none"))
  if first ~= nil then
    io.write("BENCH_FIRST_ERROR " .. string.gsub(first, "\n", " ") .. "\n")
  end
end
