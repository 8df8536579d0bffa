#!/usr/bin/env bash
# PostgreSQL end to end: a real PostgreSQL 15 on loopback, driven by psql, pgbench
# (extended and prepared protocols) and a libpq client with binary parameters and a
# pipeline, captured with tcpdump; wirewatch reads the capture (--source pcap:) and must
# report every statement once with the right tag, rows and errors, and every query
# tshark decodes from the same capture (differential).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/postgres.sh
tmp=$(mktemp -d)
port=$((40000 + RANDOM % 10000))
cleanup() {
	[ -n "${dump_pid:-}" ] && kill "$dump_pid" 2>/dev/null
	[ -n "${bpf_pid:-}" ] && kill "$bpf_pid" 2>/dev/null
	pg_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

pg_start "$port" || { not_ok "PostgreSQL 15 starts on port $port"; tap_done; exit 1; }
ok "PostgreSQL 15 starts on port $port"

# pgbench's bulk load (COPY of 100 000 rows) before the captures: the test is about the
# statements, and a bulk burst on a loaded 2-CPU machine can outrun tcpdump
PGPASSWORD=app-secret pgbench -h 127.0.0.1 -p "$port" -U app -i -q shop >/dev/null 2>&1

tcpdump -i lo -s 0 -U -w "$tmp/pg.pcap" "tcp port $port" 2>"$tmp/tcpdump.err" &
dump_pid=$!
for _ in $(seq 50); do grep -q listening "$tmp/tcpdump.err" && break; sleep 0.1; done
# the same session seen by the eBPF source: both ends (psql etc. and the postgres server)
"$WIREWATCH" --source bpf --port "$port" --redact none --workers 2 \
	--output "file:$tmp/bpf.ndjson" 2>"$tmp/bpf.err" &
bpf_pid=$!
for _ in $(seq 100); do grep -q '"type"' "$tmp/bpf.ndjson" 2>/dev/null && break
	app_psql -c "SELECT 'warm-up'" >/dev/null 2>&1; sleep 0.1; done

app_psql -v ON_ERROR_STOP=0 >/dev/null 2>&1 <<'SQL'
CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE NOT NULL, name text);
INSERT INTO customers (email, name) VALUES ('jane.doe@example.org', 'Jane Doe'), ('bob@example.com', 'Bob');
SELECT id, email FROM customers WHERE id = 1;
SELECT * FROM no_such_table;
INSERT INTO customers (email, name) VALUES ('bob@example.com', 'dup');
UPDATE customers SET name = 'Janet' WHERE id = 1;
SQL
app_psql -c "SELECT 1 AS a; SELECT 2 AS b" >/dev/null
PGPASSWORD=wrong psql -h 127.0.0.1 -p "$port" -U app -d shop -X -c "select 1" >/dev/null 2>&1
build/release/tests/tools/pg_client "host=127.0.0.1 port=$port user=app password=app-secret dbname=shop" >/dev/null
check "libpq client ran" test $? -eq 0
PGPASSWORD=app-secret pgbench -h 127.0.0.1 -p "$port" -U app -M prepared -t 25 -c 2 shop >/dev/null 2>&1
check "pgbench ran" test $? -eq 0
capture_stop "$dump_pid" "$tmp/pg.pcap"; dump_pid=
sleep 0.5
kill -INT "$bpf_pid"; wait "$bpf_pid"
check "wirewatch --source bpf exits 0" test $? -eq 0
check "tcpdump captured every packet" grep -q "^0 packets dropped by kernel" "$tmp/tcpdump.err"

"$WIREWATCH" --source "pcap:$tmp/pg.pcap" --redact none --workers 2 \
	--output "file:$tmp/out.ndjson" 2>"$tmp/ww.err"
check "wirewatch reads the capture" test $? -eq 0
tshark -r "$tmp/pg.pcap" -d "tcp.port==$port,pgsql" -Y pgsql.query -T fields -e pgsql.query \
	-E aggregator=$'\x1f' 2>/dev/null >"$tmp/tshark.txt"
check "tshark decodes queries from the same capture" test -s "$tmp/tshark.txt"

check_records() {
	python3 - "$1" "$tmp/tshark.txt" "$2" <<'PY'
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1])]
side = sys.argv[3]
q = [r for r in recs if r["type"] == "query" and r["proto"] == "postgres"
     and (side == "any" or r["conn"]["role"] == side)]
print(f"# {side}: {len(q)} records")
n = 0
def ok(cond, name):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
def one(**want):
    return [r for r in q if all(r.get(k) == v for k, v in want.items())]

ok(len(one(query="SELECT id, email FROM customers WHERE id = 1", command="SELECT 1", rows=1)) == 1,
   "psql SELECT once, tag SELECT 1")
r = one(query="SELECT * FROM no_such_table")
ok(len(r) == 1 and r[0]["error"]["code"] == "42P01", "missing table once, 42P01")
r = [x for x in q if x.get("error", {}).get("code") == "23505"]
ok(len(r) == 1, "unique violation once, 23505")
ok(len(one(query="UPDATE customers SET name = 'Janet' WHERE id = 1", rows=1)) == 1, "UPDATE once, 1 row")
ok(len(one(query="SELECT 1 AS a", command="SELECT 1")) == 1 and len(one(query="SELECT 2 AS b")) == 1,
   "multi-statement Query: one record per statement")
r = [x for x in q if x.get("command") == "LOGIN" and x["status"] == "error"]
ok(len(r) == 1 and r[0]["error"]["code"] == "28P01", "failed login once, 28P01")
r = [x for x in q if x.get("statement") == "by_id" and x.get("params") == ["2"]]
ok(len(r) == 2 and all(x["rows"] == 1 for x in r), "binary and pipelined text parameter 2, one record each")
upd = [x for x in q if x.get("query", "").startswith("UPDATE pgbench_accounts") and x.get("command") != "PARSE"]
ok(len([x for x in q if x.get("command") == "PARSE" and x.get("statement") == "P_1"]) == 2,
   "pgbench prepares its statements once per connection (PARSE records)")
ok(len(upd) == 50 and all(x.get("statement") and x["status"] == "ok" and len(x["params"]) == 2 for x in upd),
   f"pgbench -M prepared: 50 account updates with parameters ({len(upd)})")
logins = [x for x in q if x.get("command") == "LOGIN" and x["status"] == "ok"]
ok(all(x.get("auth") == "scram-sha-256" for x in logins) and len(logins) >= 5, f"logins ok with scram ({len(logins)})")

# differential: every query text tshark decodes is a query wirewatch reported
ours = collections.Counter(x.get("query") for x in q)
theirs = collections.Counter()
for line in open(sys.argv[2]):
    for text in line.rstrip("\n").split("\x1f"):
        if text:
            theirs[text] += 1
missing = [t for t in theirs if t not in ours and t.rstrip(";") not in ours]
# psql and libpq send whole multi-statement strings; wirewatch splits them per statement
missing = [t for t in missing if not all(s.strip() in ours for s in t.split(";") if s.strip())]
ok(not missing, f"every query tshark decodes ({len(theirs)} distinct) is reported" +
   (f"; missing: {missing[:3]}" if missing else ""))
unmatched = sum(1 for x in q if x["status"] == "incomplete" and "warm-up" not in x.get("query", ""))
ok(unmatched == 0, f"no incomplete records ({unmatched})")
print("1..%d" % n)
PY
}
python3 - "$tmp/bpf.ndjson" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    if '"final":true' in l:
        c = json.loads(l)["counters"]
        print("# bpf source: " + ", ".join(f"{k}={v}" for k, v in sorted(c.items())
              if v and ("drop" in k or "lost" in k or "late" in k or "gap" in k or "unknown" in k
                        or "forced" in k or "reorder" in k)))
PY
check_records "$tmp/out.ndjson" any
check "pcap: records match what the clients did" test $? -eq 0
check_records "$tmp/bpf.ndjson" client
check "bpf, client side: records match what the clients did" test $? -eq 0
check_records "$tmp/bpf.ndjson" server
check "bpf, server side: records match what the clients did" test $? -eq 0
tap_done
