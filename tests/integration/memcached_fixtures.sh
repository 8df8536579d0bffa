#!/usr/bin/env bash
# memcached parser on byte vectors recorded from a real memcached 1.6 (tests/fixtures/
# memcached/record.sh): the text protocol (storage with data blocks, multi-key get, gets/
# cas, add/append, incr/decr, touch/gat, noreply, ERROR and CLIENT_ERROR, meta commands,
# stats, pipelining) and the binary protocol (a scripted session with quiet commands and
# memccp/memccat --binary). Each session replayed whole, at every split and byte by byte.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/fixtures.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fixtures=(tests/fixtures/memcached/*.bin)
fixtures_run 11211 whole,splits,bytes "$tmp/out.ndjson" "${fixtures[@]}"
check "fixtures replayed" test $? -eq 0
cat >"$tmp/checks.py" <<'PY'
s = "text"
ok(find(s, query="set user:1 0 0 20", command="set", status="ok") is not None, "set with a data block")
ok(find(s, query="get user:1 user:2 nokey", rows=2) is not None, "get of three keys: two values")
ok(find(s, command="gets", rows=1) is not None and find(s, command="cas", status="ok") is not None, "gets and cas")
ok(find(s, query="incr counter 10", status="ok") is not None and find(s, query="gat 100 user:2", rows=1) is not None,
   "incr, gat")
ok(find(s, query="set quiet 0 0 2 noreply", bytes_resp=0) is not None and find(s, query="get quiet", rows=1) is not None,
   "noreply: no answer awaited, the next command keeps its own")
r = find(s, command="bogus")
ok(r and r["status"] == "error" and r["error"]["code"] == "ERROR", "unknown command: ERROR")
r = find(s, query="set bad 0 0 2")
ok(r and r["error"]["code"] == "CLIENT_ERROR" and r["error"]["message"] == "bad data chunk", "CLIENT_ERROR bad data chunk")
ok(find(s, query="mg meta:1 v f", rows=1) is not None and find(s, query="ms meta:1 5 T0", status="ok") is not None and
   find(s, query="mn") is not None, "meta commands ms/mg/mn")
r = find(s, command="stats")
ok(r and r["rows"] > 20 and r["bytes_resp"] > 1000, "stats: STAT lines until END")
ok(count(s, query="get user:1", rows=1) == 8, "eight pipelined gets")
ok(all(r["status"] != "incomplete" for r in sessions[s]), "every text command answered")
s = "binary"
ok([r["command"] for r in sessions[s]] == ["set", "get", "get", "getq", "getkq", "noop", "incr", "delete",
                                           "version", "stat"], "binary: every command, in order")
ok(find(s, query="get bin:1", rows=1) is not None and find(s, query="get bin:missing", rows=0, status="ok") is not None,
   "binary get: hit and miss")
ok(find(s, query="getq bin:missing", bytes_resp=0, status="ok") is not None and find(s, query="getkq bin:1", rows=1) is not None,
   "quiet getq (no answer) finished by the noop's reply")
ok(find(s, command="stat", status="ok") is not None and all(r["status"] == "ok" for r in sessions[s]), "binary stat")
ok(find("memcp_binary", query="set greeting.txt", status="ok") is not None, "memccp --binary")
ok(find("memcat_binary", query="getk greeting.txt", rows=1) is not None, "memccat --binary")
PY
fixtures_check "$tmp/out.ndjson" "$tmp/checks.py" "${fixtures[@]}"
check "records checked" test $? -eq 0
tap_done
