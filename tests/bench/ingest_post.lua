-- wrk script for tests/bench/ingest: POSTs CallGear "Call finished"
-- notifications, each with its own call_session_id so that every request is
-- a distinct event (distinct event id and Kafka message).
--
-- Environment (set by tests/bench/ingest):
--   BENCH_FIXTURE  the CallGear /end body to post (its call_session_id is replaced)
--   BENCH_PATH     /v1/callgear/<token>/end
--   BENCH_RUN      a prefix unique to this run (ids never repeat between runs)
--
-- done() prints one machine-readable line, "BENCH key=value ...", with the
-- exact counts and the latency percentiles in microseconds.

local run = os.getenv("BENCH_RUN") or tostring(os.time())
local path = os.getenv("BENCH_PATH") or "/v1/callgear/token/end"
local fixture = os.getenv("BENCH_FIXTURE")

local template
do
  local f = assert(io.open(fixture, "rb"), "cannot read BENCH_FIXTURE " .. tostring(fixture))
  local body = f:read("*a")
  f:close()
  -- "call_session_id": 3719283746  ->  "call_session_id": "%s"
  local n
  template, n = body:gsub('("call_session_id"%s*:%s*)[^,}\n]+', '%1"%%s"', 1)
  assert(n == 1, "no call_session_id in " .. fixture)
  -- any other % in the body must survive string.format
  template = template:gsub("%%([^s])", "%%%%%1")
end

local headers = { ["Content-Type"] = "application/json" }

local thread_no = 0
function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
end

local prefix
local counter = 0
function init(args)
  prefix = string.format("%s-t%d-", run, tid or 0)
end

function request()
  counter = counter + 1
  return wrk.format("POST", path, headers, string.format(template, prefix .. counter))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.0f\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
