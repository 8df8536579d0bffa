#!/usr/bin/env bash
# Redis parser on byte vectors recorded from a real redis-server 7 (tests/fixtures/redis/
# record.sh): redis-cli (strings, lists, hashes, errors, AUTH, MULTI/EXEC), inline commands,
# RESP3 (maps, sets, doubles, nulls, a tracking push), RESP2 pub/sub, redis-benchmark -P 16,
# and the 170 kB nested COMMAND DOCS reply. Each session replayed whole, cut at every byte
# of every chunk, and byte by byte (COMMAND DOCS: whole and byte by byte): identical records.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/fixtures.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

small=(tests/fixtures/redis/{cli_session,inline,resp3,pubsub,bench_set,bench_get}.bin)
fixtures_run 6379 whole,splits,bytes "$tmp/out.ndjson" "${small[@]}"
check "fixtures replayed" test $? -eq 0
fixtures_run 6379 whole,bytes "$tmp/docs.ndjson" tests/fixtures/redis/command_docs.bin
check "COMMAND DOCS replayed" test $? -eq 0
cat >"$tmp/checks.py" <<'PY'
s = "cli_session"
ok(find(s, query="SET greeting hello world", command="SET", status="ok") is not None, "SET: query space-joined")
ok(find(s, query="LRANGE list 0 -1", rows=3) is not None, "LRANGE: three elements")
ok(find(s, query="HGETALL customer:1", rows=4) is not None, "HGETALL (RESP2): four elements")
r = find(s, command="HSET")
ok(r and {(p["type"], p["where"], p["column"]) for p in r.get("pii", [])}
   == {("email", "param", "email"), ("credit_card", "param", "card")},
   "HSET: each value judged under its field name (email, card)")
r = find(s, query="GET list")
ok(r and r["status"] == "error" and r["error"]["code"] == "WRONGTYPE", "WRONGTYPE error")
r = find(s, command="NOSUCHCOMMAND")
ok(r and r["error"]["code"] == "ERR" and "unknown command" in r["error"]["message"], "unknown command error")
r = find(s, command="AUTH")
ok(r and r["query"] == "AUTH ****" and "not-the-password" not in json.dumps(sessions[s]), "AUTH password masked")
cmds = [r["command"] for r in sessions[s]]
i = cmds.index("MULTI") if "MULTI" in cmds else -1
ok(i >= 0 and cmds[i:i + 5] == ["MULTI", "SET", "INCR", "GET", "EXEC"] and sessions[s][i + 4].get("rows") == 3,
   "MULTI/EXEC: queued commands each answered, EXEC with three replies")
ok(len(sessions[s]) == 16 and all(r["status"] != "incomplete" for r in sessions[s]), f"16 commands, none left unanswered ({len(sessions[s])})")
ok([r["query"] for r in sessions["inline"]] == ["PING", "ECHO inline"] and
   all(r["status"] == "ok" for r in sessions["inline"]), "inline commands")
s = "resp3"
ok(find(s, command="HELLO", rows=7) is not None, "HELLO 3: map of 7 pairs")
ok(find(s, query="HGETALL user:1", rows=2) is not None, "RESP3 map reply")
ok(find(s, query="SMEMBERS tags", rows=2) is not None, "RESP3 set reply")
ok(find(s, query="ZSCORE z m", status="ok") is not None and find(s, query="GET nokey", status="ok") is not None,
   "RESP3 double and null")
ok(find(s, query="GET tracked", status="ok") is not None and [r["query"] for r in sessions[s]][-1] == "PING" and
   sessions[s][-1]["bytes_resp"] == 7, "tracking invalidation push is not PING's reply")
s = "pubsub"
ok([(r["command"], r["status"]) for r in sessions[s]] ==
   [("SUBSCRIBE", "ok"), ("PING", "ok"), ("UNSUBSCRIBE", "ok"), ("GET", "ok")],
   "pub/sub: message delivery and extra confirmations are not replies")
ok(find(s, command="SUBSCRIBE", rows=2) is not None, "SUBSCRIBE to two channels: two confirmations")
ok(find(s, command="GET", bytes_resp=5) is not None, "GET after UNSUBSCRIBE paired with its own reply")
for b, c in (("bench_set", "SET"), ("bench_get", "GET")):
    ok(count(b, command=c, status="ok") == 48 and len(sessions[b]) == 48,
       f"redis-benchmark -P 16: 48 pipelined {c}s ({count(b, command=c)})")
PY
fixtures_check "$tmp/out.ndjson" "$tmp/checks.py" "${small[@]}"
check "records checked" test $? -eq 0
cat >"$tmp/docs.py" <<'PY'
r = find("command_docs", command="COMMAND")
ok(r and r["rows"] > 200 and r["bytes_resp"] > 100000 and r["status"] == "ok", "COMMAND DOCS: nested 170 kB reply")
PY
fixtures_check "$tmp/docs.ndjson" "$tmp/docs.py" tests/fixtures/redis/command_docs.bin
check "COMMAND DOCS checked" test $? -eq 0
tap_done
