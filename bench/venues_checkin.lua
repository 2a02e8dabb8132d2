-- wrk script: POST a check-in with a random resident session, a random venue code and a fresh
-- idempotency key per request. Reads bench/var/checkin_fixtures.txt: "sessionkey token" per line.
-- Each key is "b<thread>-<run>-<n>": the thread number comes from setup() through thread:set (a global
-- of the thread's own Lua state; a `local` of the same name would shadow it and every thread would
-- send the same keys, which the server answers as retries), the run is random per thread.
local fixtures = {}
local counter = 0
local threads = 0
local run = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  for line in io.lines(os.getenv("CHECKIN_FIXTURES")) do
    local s, t = line:match("(%S+) (%S+)")
    fixtures[#fixtures + 1] = {s, t}
  end
  math.randomseed(os.time() + tid * 7919)
  run = math.random(1, 1000000000)
end

function request()
  counter = counter + 1
  local f = fixtures[math.random(#fixtures)]
  local body = '{"code":"' .. f[2] .. '","client_key":"b' .. tid .. "-" .. run .. "-" .. counter .. '"}'
  return wrk.format("POST", "/api/v1/venues/checkins", {
    ["Content-Type"] = "application/json",
    ["Cookie"] = "sessionid=" .. f[1] .. "; csrftoken=benchbenchbenchbenchbenchbench12",
    ["X-CSRFToken"] = "benchbenchbenchbenchbenchbench12",
  }, body)
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes = {}
  for k, v in pairs(summary.errors) do end
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d p50_us=%d p99_us=%d timeouts=%d\n",
    summary.requests, summary.duration, summary.errors.status, latency:percentile(50), latency:percentile(99),
    summary.errors.timeout))
end
