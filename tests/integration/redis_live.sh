#!/usr/bin/env bash
# Redis end to end: a real redis-server on loopback driven by redis-cli (errors, AUTH,
# MULTI/EXEC), redis-benchmark -P 16 (pipelined SET/GET/LPUSH on two connections) and a
# RESP3/pub-sub client, captured with tcpdump; wirewatch reads the capture (--source pcap:)
# and must report every command once with its reply, and as many SET/GET/LPUSH commands
# and error replies as tshark's RESP dissector decodes from the same capture.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/capture.sh
. tests/lib/redis.sh
tmp=$(mktemp -d)
port=$((48000 + RANDOM % 2000))
cleanup() { [ -n "${CAPTURE_PID:-}" ] && kill "$CAPTURE_PID" 2>/dev/null; redis_stop; rm -rf "$tmp"; }
trap cleanup EXIT

redis_start "$port" || { not_ok "redis-server starts on port $port"; tap_done; exit 1; }
ok "redis-server starts on port $port"
capture_start "$tmp/redis.pcap" "tcp port $port"

redis-cli -p "$port" >/dev/null <<'CMDS'
SET greeting "hello world"
GET greeting
LPUSH list a b c
GET list
AUTH wrong-password
MULTI
INCR counter
INCR counter
EXEC
HSET customer:1 email jane.doe@example.org
HGETALL customer:1
CMDS
redis-benchmark -p "$port" -P 16 -n 2000 -c 2 -t set,get,lpush -q >/dev/null
check "redis-benchmark -P 16 ran" test $? -eq 0
python3 tests/fixtures/redis/resp_client.py "$port" resp3
python3 tests/fixtures/redis/resp_client.py "$port" pubsub
capture_settle "$tmp/redis.pcap"
check "tcpdump captured every packet" grep -q "^0 packets dropped by kernel" "$tmp/redis.pcap.err"

"$WIREWATCH" --source "pcap:$tmp/redis.pcap" --redact none --workers 2 \
	--output "file:$tmp/out.ndjson" 2>"$tmp/ww.err"
check "wirewatch reads the capture" test $? -eq 0
tshark -r "$tmp/redis.pcap" -d "tcp.port==$port,resp" -Y "tcp.dstport==$port" -T fields \
	-e resp.bulk_string.value -E aggregator=$'\x1f' 2>/dev/null >"$tmp/tshark_req.txt"
tshark -r "$tmp/redis.pcap" -d "tcp.port==$port,resp" -Y "tcp.srcport==$port && resp.error" \
	-T fields -e resp.error -E aggregator=$'\x1f' 2>/dev/null >"$tmp/tshark_err.txt"
check "tshark decodes the same capture" test -s "$tmp/tshark_req.txt"

python3 - "$tmp/out.ndjson" "$tmp/tshark_req.txt" "$tmp/tshark_err.txt" <<'PY'
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1])]
q = [r for r in recs if r["type"] == "query" and r["proto"] == "redis"]
n = 0
def ok(cond, name):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
def one(**want):
    return [r for r in q if all(r.get(k) == v for k, v in want.items())]
ok(len(one(query="SET greeting hello world", status="ok")) == 1, "redis-cli SET once")
r = one(query="GET list")
ok(len(r) == 1 and r[0]["error"]["code"] == "WRONGTYPE", "WRONGTYPE once")
r = one(command="AUTH")
ok(len(r) == 1 and r[0]["query"] == "AUTH ****" and r[0]["status"] == "error", "AUTH masked, error")
ok(len(one(command="EXEC", rows=2)) == 1 and len(one(query="INCR counter")) == 2, "MULTI/EXEC")
bench = collections.Counter(r["command"] for r in q if "__rand" in r.get("query", "") or "mylist" in r.get("query", ""))
ok(bench["SET"] == 2000 and bench["GET"] == 2000 and bench["LPUSH"] == 2000,
   f"redis-benchmark -P 16: every pipelined command once {dict(bench)}")
ok(all(r["status"] == "ok" for r in q if "__rand" in r.get("query", "")), "benchmark replies all ok")
ok(len(one(command="SUBSCRIBE", rows=2)) == 1 and len(one(query="GET after", status="ok")) == 1,
   "pub/sub delivery not taken for a reply")
ok(len(one(query="HGETALL user:1", rows=2)) == 1, "RESP3 map reply")
ok(not [r for r in q if r["status"] == "incomplete"], "no incomplete records")
# differential: command names among the bulk strings clients sent; error replies
theirs = collections.Counter()
for line in open(sys.argv[2]):
    for v in line.rstrip("\n").split("\x1f"):
        theirs[v] += 1
for cmd in ("SET", "GET", "LPUSH", "HGETALL", "EXEC"):
    # tshark lists every bulk string: count the name wherever it is an argument in ours too
    # (CONFIG GET save has one)
    t = theirs.get(cmd.encode().hex(), 0) + theirs.get(cmd, 0)
    mine = sum(r.get("query", "").split(" ").count(cmd) for r in q)
    ok(t == mine, f"{cmd}: {len(one(command=cmd))} records, {mine} as a word, tshark sees {t}")
terr = [e for l in open(sys.argv[3]) for e in l.rstrip("\n").split("\x1f") if e]
ours_err = [r["error"]["message"] for r in q if r["status"] == "error"]
ok(sorted(terr) == sorted(ours_err), f"same error replies as tshark ({len(terr)})")
print("1..%d" % n)
PY
check "records match what the clients did" test $? -eq 0
tap_done
