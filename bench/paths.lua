-- wrk script for bench/public.sh: GET each path of the file named after `--`
-- in turn (one path per line), so every request asks for another page.
local paths = {}
local n = 0

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    if line ~= "" then
      paths[#paths + 1] = line
    end
  end
  file:close()
  assert(#paths > 0, "no paths in " .. args[1])
end

function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
