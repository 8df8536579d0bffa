#!/usr/bin/env bash
# The tcp: sink end to end: a collector that goes away for three seconds (gracefully:
# it stops listening, shuts down its side, drains what was in flight) and comes back
# receives every record wirewatch wrote exactly once, with no record cut, while the
# records of the outage wait in the on-disk spool.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${col:-}" ] && kill $col 2>/dev/null' EXIT
port=$((30000 + RANDOM % 10000))

python3 - "$port" "$tmp/received" <<'PY' &
import socket, sys, time
port, out = int(sys.argv[1]), open(sys.argv[2], "wb")

def listen():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(1)
    return s

def drain(c):
    while True:
        d = c.recv(65536)
        if not d:
            return
        out.write(d)

s = listen()
c, _ = s.accept()
got, start = b"", time.time()
while time.time() - start < 2.5:           # phase 1: read for a while
    d = c.recv(65536)
    if not d:
        break
    out.write(d)
s.close()                                  # go away gracefully
c.shutdown(socket.SHUT_WR)
drain(c)
c.close()
time.sleep(3)                              # the outage
s = listen()                               # back: everything spooled must arrive
c, _ = s.accept()
drain(c)
out.close()
PY
col=$!
sleep 0.5
printf 'output:\n  spool_dir: %s/spool\n  flush_ms: 20\nmetrics:\n  stats_interval_s: 1\n' "$tmp" >"$tmp/cfg.yaml"
"$WIREWATCH" --config "$tmp/cfg.yaml" --source synth:rate=5000,conns=20 --workers 2 \
	--duration 8 --output "tcp:127.0.0.1:$port" 2>"$tmp/err"
check "wirewatch exits 0" test $? -eq 0
wait $col
col=
check "collector saw the end of the stream" test -s "$tmp/received"

python3 - "$tmp/received" <<'PY'
import json, sys, collections
lines = open(sys.argv[1], "rb").read().split(b"\n")
n = 0
def ok(cond, name):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
ok(lines[-1] == b"", "the stream ends with a whole record")
recs = []
bad = 0
for l in lines[:-1]:
    try:
        recs.append(json.loads(l))
    except ValueError:
        bad += 1
ok(bad == 0, f"every line is a whole JSON record ({bad} bad)")
conn = collections.Counter((r["conn"]["id"], r["event"]) for r in recs if r["type"] == "conn")
dups = [k for k, v in conn.items() if v > 1]
ok(not dups, f"no record twice ({len(dups)} duplicated)")
final = [r for r in recs if r["type"] == "stats" and r["final"]]
ok(len(final) == 1, "the final stats record arrived")
if final:
    c = final[0]["counters"]
    # every record encoded before the final stats record, plus that record itself
    ok(len(recs) == c["records_total"] + 1, f"all {c['records_total'] + 1} records arrived ({len(recs)})")
    ok(c["output_records_spooled_total"] > 0, f"the outage was spooled ({c['output_records_spooled_total']} records)")
    ok(c["output_records_dropped_total"] == 0, "nothing dropped")
opens = sum(1 for k in conn if k[1] == "open")
ok(opens > 100, f"records from the whole run ({opens} connections)")
print("1..%d" % n)
PY
check "collector received every record exactly once" test $? -eq 0
tap_done
