-- slotfleet_post.lua: wrk script for tests/bench/slotfleet.sh.  Every request
-- is POST .../mgmt/upgrade for an instance id of its own (wrk-THREAD-N), so
-- each is a new record and a new cast.  Arguments (after --): TOKEN.
-- done() prints one line: "accepted A other O p50_us P p99_us Q seconds S".
local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

function init(args)
	token = args[1]
	n = 0
	accepted = 0
	other = 0
end

function request()
	n = n + 1
	local body = string.format('{"instance_id": "wrk-%d-%d", "instance_version": "v2.0.0", ' ..
		'"location": "http://127.0.0.1:9/v2.bundle"}', tid, n)
	return wrk.format("POST", nil, { ["X-Auth-Token"] = token,
		["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
	if status == 202 then
		accepted = accepted + 1
	else
		other = other + 1
	end
end

function done(summary, latency, requests)
	local a, o = 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("accepted")
		o = o + t:get("other")
	end
	io.write(string.format("accepted %d other %d p50_us %d p99_us %d seconds %.3f\n", a, o,
		latency:percentile(50), latency:percentile(99), summary.duration / 1e6))
end
