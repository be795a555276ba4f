-- wrk script for bench/run.sh: POST /api/v1/deploys, each with its own version
-- and N changelog entries (default 20).
--
--   wrk -t2 -c16 -d10s -s bench/deploys.lua http://127.0.0.1:3700 -- TOKEN RUN_ID ENTRIES
--
-- Versions are unique per environment (a duplicate answers 409), so each
-- request carries `b<run>-t<thread>-<counter>`. Every non-2xx response is
-- counted; done() prints a `BENCH_RESULT` line that run.sh reads.

local threads = {}
local next_id = 0

-- Main thread, once per wrk thread: give each its own id.
function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

local kinds = { "feature", "fix", "improvement", "security", "internal" }
local components = { "billing", "search", "auth", "api", "ui", "reports", "exports", "notifications" }
local subjects = { "CSV export", "saved filters", "audit trail", "dark mode", "rate limits",
                   "bulk edit", "webhooks", "two-factor sign-in", "invoice PDFs", "team roles" }

-- The entries do not change from one request to the next (only the version
-- does), so the JSON is built once per thread to keep wrk's own CPU use low.
local function entries_json(thread_id, n)
  local parts = {}
  for i = 1, n do
    local subject = subjects[(i + thread_id) % #subjects + 1]
    local kind = kinds[(i - 1) % #kinds + 1]
    local component = components[(i + 2 * thread_id) % #components + 1]
    local title = string.format("%s: %s for the %s screen (%d)",
      kind == "fix" and "Fix" or "Add", subject, component, i)
    local body = table.concat({
      "Adds **" .. subject .. "** to the " .. component .. " screen.",
      "",
      "- Works with `keyboard` shortcuts",
      "- Respects [permissions](https://example.com/docs/permissions)",
      "- Entry " .. i .. " of " .. n,
      "",
      "See the _docs_ for details.",
    }, "\\n")
    parts[#parts + 1] = string.format(
      '{"title":"%s","body":"%s","kind":"%s","component":"%s"}',
      title, body, kind, component)
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

-- Each wrk thread, before its first request.
function init(args)
  local token = args[1] or os.getenv("SHIPLOG_BENCH_TOKEN") or ""
  run_id = args[2] or tostring(os.time())
  local n = tonumber(args[3]) or 20
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
  body_tail = ',"status":"succeeded","entries":' .. entries_json(id, n) .. '}'
  counter = 0
  ok = 0
  non2xx = 0
  statuses = {}
  first_error = nil
end

function request()
  counter = counter + 1
  local version = string.format("b%s-t%d-%d", run_id, id, counter)
  local commit = string.format("%04x%06x", id % 65536, counter % 16777216)
  local body = '{"environment":"bench","version":"' .. version
    .. '","commit":"' .. commit .. '"' .. body_tail
  return wrk.format("POST", "/api/v1/deploys", headers, body)
end

function response(status, _headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    non2xx = non2xx + 1
    if first_error == nil then
      first_error = tostring(status) .. " " .. string.sub(body or "", 1, 300)
    end
  end
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

-- Main thread, after the run.
function done(summary, latency, _requests)
  local total_ok, total_bad = 0, 0
  local by_status = {}
  local first = nil
  for _, t in ipairs(threads) do
    total_ok = total_ok + (t:get("ok") or 0)
    total_bad = total_bad + (t:get("non2xx") or 0)
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
    "BENCH_RESULT requests=%d ok=%d non2xx=%d seconds=%.3f rps=%.1f ok_rps=%.1f "
      .. "p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f "
      .. "err_connect=%d err_read=%d err_write=%d err_timeout=%d statuses=%s\n",
    summary.requests, total_ok, total_bad, secs,
    summary.requests / secs, total_ok / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.timeout,
    (#hist > 0) and table.concat(hist, ",") or "none"))
  if first ~= nil then
    io.write("BENCH_FIRST_ERROR " .. string.gsub(first, "\n", " ") .. "\n")
  end
end
