-- wrk script for bench/load.sh: a mix of public pages and API calls, with a
-- share of API writes, over many connections.
--
--   wrk -t2 -c1000 -d60s --timeout 30s -s bench/load.lua http://127.0.0.1:3750 \
--       -- TARGETS_FILE TOKEN RUN_ID WRITES_PER_MILLE
--
-- TARGETS_FILE (written by load.py targets) has lines `release <slug>` and
-- `change <id>`: public pages known to answer 200. Each wrk thread deals its
-- requests from a shuffled deck of 1,000 cards in these shares (the writes
-- take WRITES_PER_MILLE cards, the reads share the rest by weight):
--
--   /                                  14    /api/v1/deploys?limit=20            8
--   /changes                           10    /api/v1/releases?page=<1-3>         6
--   /changes?q=<word>                  10    /api/v1/gate?environment=production 8
--   /releases/<slug>                   14    POST /api/v1/deploys (3 entries)    WRITES_PER_MILLE
--   /changes/<id>                      14
--   /feeds/changes.atom, releases.json  6
--
-- Pages are asked for with gzip, as browsers do. wrk cannot tell which
-- request an answer belongs to, so answers are counted by status only;
-- done() prints a `LOAD_RESULT` line that load.sh reads, and the first
-- answers that were neither 2xx nor 3xx (status and body).

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

local words = { "export", "search", "billing", "crash", "notifications", "dashboard",
                "invoice", "filters", "emails", "zone", "faster", "error", "saved",
                "dates", "duplicate", "reports", "empty", "clearer", "login", "webhook",
                "fixed", "improved", "messages", "field", "respect", "time", "nothing-like-this" }

local reads = {
  { "home", 14 }, { "changes", 10 }, { "search", 10 }, { "release", 14 }, { "change", 14 },
  { "feed", 6 }, { "api_deploys", 8 }, { "api_releases", 6 }, { "api_gate", 8 },
}

local function shuffle(t)
  for i = #t, 2, -1 do
    local j = math.random(i)
    t[i], t[j] = t[j], t[i]
  end
end

function init(args)
  local targets_file = args[1]
  local token = args[2] or ""
  run_id = args[3] or tostring(os.time())
  local writes = tonumber(args[4]) or 20
  math.randomseed(os.time() * 1000 + id)

  releases, changes = {}, {}
  local f = assert(io.open(targets_file, "r"), "cannot open " .. tostring(targets_file))
  for line in f:lines() do
    local kind, value = line:match("^(%S+)%s+(%S+)$")
    if kind == "release" then releases[#releases + 1] = value end
    if kind == "change" then changes[#changes + 1] = value end
  end
  f:close()
  assert(#releases > 0 and #changes > 0, "the targets file lists no release or no change")

  page_headers = { ["Accept-Encoding"] = "gzip" }
  api_headers = { ["Authorization"] = "Bearer " .. token }
  post_headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }

  -- The deck: 1,000 cards, `writes` of them POSTs, the reads by weight.
  deck = {}
  local total = 0
  for _, r in ipairs(reads) do total = total + r[2] end
  local left = 1000 - writes
  for i, r in ipairs(reads) do
    local n = (i == #reads) and left or math.floor((1000 - writes) * r[2] / total + 0.5)
    n = math.min(n, left)
    for _ = 1, n do deck[#deck + 1] = r[1] end
    left = left - n
  end
  for _ = 1, writes do deck[#deck + 1] = "write" end
  shuffle(deck)
  card = 0
  counter = 0

  sent = 0
  statuses = {}
  bad = 0
  first_errors = {}
end

local function pick(t)
  return t[math.random(#t)]
end

function request()
  card = card % #deck + 1
  local kind = deck[card]
  sent = sent + 1
  if kind == "home" then
    return wrk.format("GET", "/", page_headers)
  elseif kind == "changes" then
    return wrk.format("GET", "/changes", page_headers)
  elseif kind == "search" then
    return wrk.format("GET", "/changes?q=" .. pick(words), page_headers)
  elseif kind == "release" then
    return wrk.format("GET", "/releases/" .. pick(releases), page_headers)
  elseif kind == "change" then
    return wrk.format("GET", "/changes/" .. pick(changes), page_headers)
  elseif kind == "feed" then
    local path = (sent % 2 == 0) and "/feeds/changes.atom" or "/feeds/releases.json"
    return wrk.format("GET", path, page_headers)
  elseif kind == "api_deploys" then
    return wrk.format("GET", "/api/v1/deploys?limit=20", api_headers)
  elseif kind == "api_releases" then
    return wrk.format("GET", "/api/v1/releases?page=" .. math.random(3), api_headers)
  elseif kind == "api_gate" then
    return wrk.format("GET", "/api/v1/gate?environment=production", api_headers)
  else
    counter = counter + 1
    local body = string.format(
      '{"environment":"load","version":"l%s-t%d-%d","commit":"%04x%06x","status":"succeeded","entries":['
        .. '{"title":"Faster exports (%d)","kind":"improvement","component":"exports","body":"Exports are **faster**."},'
        .. '{"title":"Fix a crash in search","kind":"fix","component":"search","body":"No more crash when the query is empty."},'
        .. '{"title":"Internal clean-up","kind":"internal","body":"Nothing customers see."}]}',
      run_id, id, counter, id % 65536, counter % 16777216, counter)
    return wrk.format("POST", "/api/v1/deploys", post_headers, body)
  end
end

function response(status, _headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status >= 400 or status < 200 then
    bad = bad + 1
    if #first_errors < 3 then
      first_errors[#first_errors + 1] = key .. " " .. string.gsub(string.sub(body or "", 1, 200), "%s+", " ")
    end
  end
end

function done(summary, latency, _requests)
  local by_status, total_bad, total_sent, errors = {}, 0, 0, {}
  for _, t in ipairs(threads) do
    total_bad = total_bad + (t:get("bad") or 0)
    total_sent = total_sent + (t:get("sent") or 0)
    for k, v in pairs(t:get("statuses") or {}) do by_status[k] = (by_status[k] or 0) + v end
    for _, e in ipairs(t:get("first_errors") or {}) do
      if #errors < 5 then errors[#errors + 1] = e end
    end
  end
  local hist = {}
  for k, v in pairs(by_status) do hist[#hist + 1] = k .. "x" .. v end
  table.sort(hist)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "LOAD_RESULT requests=%d sent=%d seconds=%.3f rps=%.1f bad_status=%d "
      .. "p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f "
      .. "err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d statuses=%s\n",
    summary.requests, total_sent, secs, summary.requests / secs, total_bad,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.timeout, e.status,
    (#hist > 0) and table.concat(hist, ",") or "none"))
  for _, err in ipairs(errors) do
    io.write("LOAD_ERROR " .. err .. "\n")
  end
end
