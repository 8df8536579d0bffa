#!/usr/bin/env bash
# memcached end to end: a real memcached on loopback driven by a text-protocol client, a
# binary-protocol client and memccp/memccat --binary, captured with tcpdump; wirewatch
# reads the capture (--source pcap:) and must report every command once, and the same
# text commands and binary opcodes tshark's memcache dissector decodes.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/capture.sh
. tests/lib/memcached.sh
tmp=$(mktemp -d)
port=$((40000 + RANDOM % 2000))
cleanup() { [ -n "${CAPTURE_PID:-}" ] && kill "$CAPTURE_PID" 2>/dev/null; memcached_stop; rm -rf "$tmp"; }
trap cleanup EXIT

memcached_start "$port" || { not_ok "memcached starts on port $port"; tap_done; exit 1; }
ok "memcached starts on port $port"
capture_start "$tmp/mc.pcap" "tcp port $port"
python3 tests/fixtures/memcached/mc_client.py "$port" text
python3 tests/fixtures/memcached/mc_client.py "$port" binary
printf 'hello\n' >"$tmp/greeting.txt"
memccp --servers="127.0.0.1:$port" --binary "$tmp/greeting.txt" &&
	memccat --servers="127.0.0.1:$port" --binary greeting.txt >/dev/null
check "clients ran" test $? -eq 0
capture_settle "$tmp/mc.pcap"
"$WIREWATCH" --source "pcap:$tmp/mc.pcap" --redact none --workers 2 \
	--output "file:$tmp/out.ndjson" 2>"$tmp/ww.err"
check "wirewatch reads the capture" test $? -eq 0
tshark -r "$tmp/mc.pcap" -d "tcp.port==$port,memcache" -Y "tcp.dstport==$port && memcache" -T fields \
	-e memcache.command -e memcache.opcode -E aggregator=$'\x1f' 2>/dev/null >"$tmp/tshark.txt"
check "tshark decodes the same capture" test -s "$tmp/tshark.txt"
python3 - "$tmp/out.ndjson" "$tmp/tshark.txt" <<'PY'
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1])]
q = [r for r in recs if r["type"] == "query" and r["proto"] == "memcached"]
n = 0
def ok(cond, name):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
ok(len([r for r in q if r["query"] == "get user:1"]) == 8, "eight pipelined gets once each")
ok(len([r for r in q if r["command"] == "stats" and r["rows"] > 20]) == 1, "stats once")
ok(len([r for r in q if r["query"] == "getq bin:missing"]) == 1 and len([r for r in q if r["command"] == "stat"]) == 1,
   "binary session once")
ok(len([r for r in q if r["query"] == "getk greeting.txt" and r["rows"] == 1]) == 1, "memccat --binary")
ok(not [r for r in q if r["status"] == "incomplete"], "no incomplete records")
binops = {0: "get", 1: "set", 4: "delete", 5: "incr", 7: "quit", 9: "getq", 10: "noop", 11: "version",
          12: "getk", 13: "getkq", 16: "stat"}
theirs = collections.Counter()
for l in open(sys.argv[2]):
    cmd, op = (l.rstrip("\n").split("\t") + [""])[:2]
    for c in filter(None, cmd.split("\x1f")):
        theirs[c] += 1
    for o in filter(None, op.split("\x1f")):
        theirs[binops.get(int(o, 0), o)] += 1
ours = collections.Counter(r["command"] for r in q if r["command"] not in ("ong", "bogus"))
common = {"set", "get", "gets", "cas", "add", "append", "incr", "decr", "touch", "gat", "delete", "version",
          "stats", "getq", "getkq", "noop", "stat", "getk"}
# tshark decodes only the first text command of a segment: everything it decodes must be
# reported, and we see at least as much
missing = {c: (ours[c], theirs[c]) for c in common if ours[c] < theirs[c]}
ok(not missing and sum(theirs.values()) > 20, "every command tshark decodes is reported" +
   (f": {missing}" if missing else f" (tshark {sum(theirs[c] for c in common)}, wirewatch {sum(ours[c] for c in common)})"))
print("1..%d" % n)
PY
check "records match what the clients did" test $? -eq 0
tap_done
