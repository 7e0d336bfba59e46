-- wrk script for the zoomhooks ingest benchmark.
--
-- Sends every pre-signed delivery written by presign.py exactly once, then stops.
--
--   BENCH_REQUESTS  prefix of presign.py's files; thread k reads PREFIX.t<k>
--   BENCH_THREADS   wrk's -t (the number of files)
--   BENCH_RESULT    where done() writes its JSON summary
--   BENCH_DURATION  (optional) seconds after which a thread sends nothing new; it still waits
--                   for the answers to what it has sent (give wrk a longer -d as a hard cap)
--   BENCH_DONE_DIR  (optional) a thread that has had an answer to each request it sent, with
--                   nothing left to send or its BENCH_DURATION over, writes <dir>/thread-<k> and
--                   stops; the driver sends wrk SIGINT once all have, so wrk does not idle until -d
--
-- So every request sent is answered (barring socket errors) and "200s acknowledged minus rows
-- stored" is exact whether the run ends by exhausting the events or by the deadline.
--
-- How "exactly once" works: wrk calls delay() before each request on a connection; delay()
-- reserves one unsent request, or parks the connection (a very long delay) when none is left,
-- so no connection ever sends a filler or a repeat. Only a reconnect after a socket error can
-- call request() without a reservation; if nothing is left then, the last request is re-sent
-- and counted in `resent` (the driver subtracts it from the distinct acknowledged events).
-- Responses are counted by status; each 200 is one distinct event acknowledged.

local ffi_ok, ffi = pcall(require, "ffi")
local have_clock = false
if ffi_ok then
   have_clock = pcall(ffi.cdef, [[
      typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
      int clock_gettime(int clk_id, bench_timespec *tp);
   ]])
end
local ts_buf = have_clock and ffi.new("bench_timespec[1]") or nil

-- CLOCK_MONOTONIC, in nanoseconds (a double holds it exactly for ~100 days of uptime)
local function now_ns()
   if ts_buf then
      ffi.C.clock_gettime(1, ts_buf)
      return tonumber(ts_buf[0].tv_sec) * 1e9 + tonumber(ts_buf[0].tv_nsec)
   end
   return os.time() * 1e9
end

local PARKED_MS = 3600 * 1000

-- main state: setup() sees every thread
local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

-- thread state (globals, so that done() can read them with thread:get)
tid = 0
own = 0          -- requests assigned to this thread
reserved = 0     -- granted by delay()
taken = 0        -- handed to wrk by request()
resent = 0       -- repeats after a reconnect with nothing left (should stay 0)
responses = 0
ok = 0           -- status 200
statuses = {}    -- status code (as a string) -> count
first_ns = -1
last_ns = -1
finished = false
deadline_hit = false
clock = have_clock and "monotonic" or "os.time"
started = false

local reqs = {}
local done_dir = nil
local deadline_ns = nil

function init(args)
   local prefix = os.getenv("BENCH_REQUESTS")
   assert(prefix, "BENCH_REQUESTS is not set")
   done_dir = os.getenv("BENCH_DONE_DIR")
   local duration = tonumber(os.getenv("BENCH_DURATION") or "")
   if duration and have_clock then deadline_ns = now_ns() + duration * 1e9 end
   local path = prefix .. ".t" .. tid
   local f = assert(io.open(path, "rb"))
   while true do
      local header = f:read("*l")
      if header == nil or header == "" then break end
      local length = tonumber(header)
      local raw = f:read(length)
      assert(raw and #raw == length, "truncated record in " .. path)
      reqs[#reqs + 1] = raw
   end
   f:close()
   own = #reqs
   assert(own > 0, "no requests in " .. path)
end

local function finish()
   finished = true
   if done_dir then
      local f = io.open(done_dir .. "/thread-" .. tid, "w")
      if f then
         f:write(tostring(responses), "\n")
         f:close()
      end
   end
   wrk.thread:stop()
end

local function past_deadline()
   if deadline_hit then return true end
   if deadline_ns and now_ns() >= deadline_ns then deadline_hit = true end
   return deadline_hit
end

-- all answers are in, and nothing more will be sent
local function maybe_finish()
   if finished or responses < taken + resent then return end
   if taken >= own or past_deadline() then finish() end
end

function delay()
   started = true
   if reserved < own and not past_deadline() then
      reserved = reserved + 1
      return 0
   end
   maybe_finish()
   return PARKED_MS
end

function request()
   if not started then
      -- wrk calls request() once on thread 0 before the run, only to count pipelined requests
      return reqs[1]
   end
   if taken >= reserved then
      -- a reconnect re-sends without asking delay() first
      if reserved < own then
         reserved = reserved + 1
      else
         resent = resent + 1
         return reqs[own]
      end
   end
   taken = taken + 1
   if first_ns < 0 then first_ns = now_ns() end
   return reqs[taken]
end

function response(status, headers, body)
   responses = responses + 1
   last_ns = now_ns()
   if status == 200 then ok = ok + 1 end
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   maybe_finish()
end

-- JSON, enough for numbers, strings, booleans and nested tables with string keys
local function encode(value)
   local kind = type(value)
   if kind == "table" then
      local parts = {}
      if #value > 0 then
         for _, v in ipairs(value) do parts[#parts + 1] = encode(v) end
         return "[" .. table.concat(parts, ",") .. "]"
      end
      local keys = {}
      for k in pairs(value) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      for _, k in ipairs(keys) do
         local v = value[k]
         if v == nil then v = value[tonumber(k)] end
         parts[#parts + 1] = string.format("%q", k) .. ":" .. encode(v)
      end
      return "{" .. table.concat(parts, ",") .. "}"
   elseif kind == "number" then
      if value ~= value or value == math.huge or value == -math.huge then return "null" end
      if value == math.floor(value) and math.abs(value) < 2^53 then
         return string.format("%d", value)
      end
      return string.format("%.6f", value)
   elseif kind == "boolean" then
      return value and "true" or "false"
   elseif kind == "string" then
      return (string.format("%q", value):gsub("\\\n", "\\n"))
   end
   return "null"
end

function done(summary, latency, requests)
   local per_thread = {}
   local totals = {own = 0, taken = 0, responses = 0, ok = 0, resent = 0}
   local statuses_all = {}
   local first, last = nil, nil
   local all_finished = true
   for _, t in ipairs(threads) do
      local row = {
         tid = t:get("tid"), own = t:get("own"), taken = t:get("taken"),
         responses = t:get("responses"), ok = t:get("ok"), resent = t:get("resent"),
         first_ns = t:get("first_ns"), last_ns = t:get("last_ns"),
         finished = t:get("finished"), statuses = t:get("statuses"),
         deadline_hit = t:get("deadline_hit"),
      }
      per_thread[#per_thread + 1] = row
      for k, _ in pairs(totals) do totals[k] = totals[k] + row[k] end
      for code, n in pairs(row.statuses) do statuses_all[code] = (statuses_all[code] or 0) + n end
      if row.first_ns >= 0 and (first == nil or row.first_ns < first) then first = row.first_ns end
      if row.last_ns >= 0 and (last == nil or row.last_ns > last) then last = row.last_ns end
      all_finished = all_finished and row.finished
   end
   local non2xx = 0
   for code, n in pairs(statuses_all) do
      local c = tonumber(code)
      if c < 200 or c > 299 then non2xx = non2xx + n end
   end
   local pcts = {}
   for _, p in ipairs({50, 75, 90, 99, 99.9}) do
      pcts[tostring(p)] = latency:percentile(p)
   end
   local out = {
      clock = clock,
      threads = per_thread,
      totals = totals,
      statuses = statuses_all,
      non2xx = non2xx,
      all_finished = all_finished,
      span_ns = (first and last) and (last - first) or -1,
      wrk = {
         duration_us = summary.duration, requests = summary.requests, bytes = summary.bytes,
         errors = summary.errors,
      },
      latency_us = {
         min = latency.min, max = latency.max, mean = latency.mean, stdev = latency.stdev,
         percentiles = pcts,
      },
   }
   local path = os.getenv("BENCH_RESULT")
   local text = encode(out)
   if path then
      local f = assert(io.open(path, "w"))
      f:write(text, "\n")
      f:close()
   else
      io.write(text, "\n")
   end
end
