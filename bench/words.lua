-- wrk script for bench/public.sh: GET /changes?q=<word>, a different word on
-- each request (words the demo data uses, some common, some rare, some in
-- no entry at all), so no two neighbouring requests are the same search.
local words = { "export", "search", "billing", "crash", "notifications", "dashboard",
                "invoice", "filters", "emails", "zone", "faster", "error", "saved",
                "dates", "duplicate", "reports", "empty", "clearer", "login", "webhook",
                "fixed", "improved", "messages", "field", "respect", "time", "nothing-like-this" }
local n = 0

function request()
  n = n + 1
  return wrk.format("GET", "/changes?q=" .. words[(n % #words) + 1])
end
