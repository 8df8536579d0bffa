#!/usr/bin/env bash
# PostgreSQL parser on byte vectors recorded from a real PostgreSQL 15 (psql, libpq with
# the extended protocol, a failed login): each session replayed whole, cut at every byte
# position of every chunk, and byte by byte, through the whole daemon (--source replay).
# Every variant must give exactly the records of the whole session, and the whole
# session must give the statements, tags, rows, columns, parameters and errors the
# clients really exchanged.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fixtures=(tests/fixtures/postgres/*.bin)
build/release/tests/tools/fixture_to_wwr "$tmp/pg.wwr" 5432 whole,splits,bytes "${fixtures[@]}"
check "fixtures converted to a recording" test $? -eq 0
# default redact (pii): findings on the records, and no raw PII anywhere in the output
build/release/tests/tools/fixture_to_wwr "$tmp/whole.wwr" 5432 whole "${fixtures[@]}"
"$WIREWATCH" --source "replay:$tmp/whole.wwr" --workers 1 --output "file:$tmp/pii.ndjson" 2>/dev/null
check "replay with redact: pii exits 0" test $? -eq 0
for raw in jane.doe@example.org bob@example.com 4111111111111111; do
	check "raw value $raw never written" bash -c "! grep -q '$raw' '$tmp/pii.ndjson'"
done
python3 - "$tmp/pii.ndjson" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"type":"query"' in l]
n = 0
def ok(c, name):
    global n
    n += 1
    print(("ok %d - %s" if c else "not ok %d - %s") % (n, name))
ins = [r for r in recs if r.get("command") == "INSERT 0 2"]
ok(len(ins) == 1 and {p["type"] for p in ins[0].get("pii", [])} == {"email", "credit_card"},
   "INSERT with an email and a card: both found in the query")
ok(ins and "'j***@e***.org'" in ins[0]["query"] and "****-****-****-1111" in ins[0]["query"],
   "the query text shows the masked values")
sel = [r for r in recs if r.get("query") == "SELECT id, email FROM customers WHERE id = 1"]
ok(sel and sel[0]["pii"] == [{"type": "email", "where": "result", "column": "email", "count": 1,
                              "confidence": sel[0]["pii"][0]["confidence"], "sample": "j***@e***.org"}]
   and sel[0]["pii"][0]["confidence"] >= 0.9, "result cell: email in column email, masked sample")
par = [r for r in recs if r.get("params") and any("@" in p for p in r["params"])]
ok(par and all(p["type"] == "email" and p["where"] == "param" for r in par for p in r["pii"]),
   "bind parameter: email found where=param, value masked in params")
clean = [r for r in recs if r.get("query") == "SELECT count(*) FROM customers"]
ok(clean and "pii" not in clean[0], "a query without PII has no pii array")
print("1..%d" % n)
PY
check "PII findings on PostgreSQL records" test $? -eq 0

# redact: literals: statements as fingerprints, parameters as "?"
"$WIREWATCH" --source "replay:$tmp/whole.wwr" --workers 1 --redact literals \
	--output "file:$tmp/literals.ndjson" 2>/dev/null
python3 - "$tmp/literals.ndjson" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"type":"query"' in l]
qs = [r for r in recs if "query" in r]
ok1 = all(r["query"] == r["fingerprint"] for r in qs)
ok2 = all(p == "?" for r in recs for p in r.get("params", []))
print(("ok" if ok1 else "not ok") + " 1 - redact literals: every query written as its fingerprint")
print(("ok" if ok2 else "not ok") + " 2 - redact literals: every parameter written as ?")
print("1..2")
PY
check "redact: literals" test $? -eq 0

# long pgbench sessions: whole and byte by byte (every split point would be quadratic)
large=(tests/fixtures/postgres/large/*.bin)
build/release/tests/tools/fixture_to_wwr "$tmp/large.wwr" 5432 whole,bytes "${large[@]}"
"$WIREWATCH" --source "replay:$tmp/large.wwr" --redact none --workers 2 \
	--output "file:$tmp/large.ndjson" 2>/dev/null
check "pgbench sessions replay" test $? -eq 0
python3 - "$tmp/large.ndjson" <<'PY'
import json, sys, collections
by = collections.defaultdict(list)
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "query":
        by[r["conn"]["id"].rsplit(":", 1)[0]].append({k: v for k, v in r.items() if k not in ("conn", "ts", "latency_us")})
n = 0
for key in sorted(by):
    pid, fd = key.split(":")
    if fd != "3":
        continue
    whole, byte = by[key], by.get(pid + ":4")
    n += 1
    print(("ok" if whole == byte else "not ok") + f" {n} - pgbench session {pid}: byte by byte == whole ({len(whole)} records)")
sel = [r for k in by if k.endswith(":3") for r in by[k]
       if r.get("query", "").startswith("SELECT abalance") and r.get("command") != "PARSE"]
n += 1
print(("ok" if len(sel) >= 400 and all(r["rows"] == 1 and r["status"] == "ok" and len(r["params"]) == 1 for r in sel) else "not ok")
      + f" {n} - pgbench -S: every SELECT with its parameter and one row ({len(sel)})")
PY
"$WIREWATCH" --source "replay:$tmp/pg.wwr" --redact none --workers 2 \
	--output "file:$tmp/out.ndjson" 2>"$tmp/err"
check "replay exits 0" test $? -eq 0

python3 - "$tmp/out.ndjson" "${fixtures[@]}" <<'PY'
import json, sys, collections

out, fixtures = sys.argv[1], sys.argv[2:]
by_conn = collections.defaultdict(list)
for line in open(out):
    r = json.loads(line)
    if r["type"] != "query":
        continue
    pid, fd, gen = r["conn"]["id"].split(":")
    key = {k: v for k, v in r.items() if k not in ("conn", "ts", "latency_us")}
    by_conn[(int(pid), int(fd))].append(key)

n = 0
def ok(cond, name):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))

sessions = {}
for i, path in enumerate(fixtures):
    pid = 50000 + 4 + i   # fixture_to_wwr numbers fixtures by argv position
    conns = sorted(fd for (p, fd) in by_conn if p == pid)
    name = path.rsplit("/", 1)[1]
    whole = by_conn.get((pid, 3), [])
    sessions[name] = whole
    ok(len(whole) > 0, f"{name}: whole session gives records ({len(whole)})")
    same = [fd for fd in conns if by_conn[(pid, fd)] == whole]
    ok(len(conns) > 2 and len(same) == len(conns),
       f"{name}: {len(same)}/{len(conns)} split and byte-by-byte variants give identical records")
    for fd in conns:
        if by_conn[(pid, fd)] != whole:
            print("# first differing variant fd", fd)
            print("# whole:  ", json.dumps(whole)[:600])
            print("# variant:", json.dumps(by_conn[(pid, fd)])[:600])
            break

def find(session, **want):
    for r in sessions[session]:
        if all(r.get(k) == v for k, v in want.items()):
            return r
    return None

s = "psql_session.bin"
ok(find(s, command="LOGIN", status="ok", user="app", db="shop", auth="scram-sha-256",
        application_name="psql") is not None, "login: user, db, application, scram-sha-256")
r = find(s, query="SELECT id, email FROM customers WHERE id = 1")
ok(r and r["command"] == "SELECT 1" and r["rows"] == 1 and r["columns"] == ["id", "email"]
   and r["fingerprint"] == "SELECT id, email FROM customers WHERE id = ?",
   "simple query: tag, rows, columns, fingerprint")
r = find(s, command="INSERT 0 2")
ok(r and r["rows"] == 2 and r["fingerprint"].endswith("VALUES (?)"), "INSERT of two rows: rows 2, VALUES collapsed")
r = find(s, query="SELECT * FROM no_such_table")
ok(r and r["status"] == "error" and r["error"]["code"] == "42P01", "missing table: 42P01")
r = find(s, status="error", query="INSERT INTO customers (email, name) VALUES ('bob@example.com', 'dup')")
ok(r and r["error"]["code"] == "23505", "unique violation: 23505")
ok(find(s, query="UPDATE customers SET name = 'Janet' WHERE id = 1", rows=1) is not None, "UPDATE 1 row")
ok(find(s, query="SELEC 2", status="error") is not None and find(s, query="SELECT 3", rows=1) is not None,
   "syntax error between two good statements")
ok(find(s, command="COPY 2", rows=2) is not None and find(s, command="COPY 4", rows=4) is not None,
   "COPY FROM STDIN and TO STDOUT rows")
ok(find(s, command="EMPTY") is not None, "empty query")
ok(len(sessions[s]) == 18, f"psql session: 18 records ({len(sessions[s])})")

s = "auth_failed.bin"
r = find(s, command="LOGIN")
ok(r and r["status"] == "error" and r["error"]["code"] == "28P01" and r["error"]["severity"] == "FATAL",
   "failed login: 28P01 FATAL")

s = "libpq_extended.bin"
q = "SELECT id, email, name FROM customers WHERE id = $1"
ok(find(s, command="PARSE", statement="by_id", query=q) is not None, "PQprepare: a PARSE record")
ok(find(s, query=q, params=["1"], statement="by_id", rows=1) is not None, "named statement, text parameter")
ok(find(s, query=q, params=["2"], statement="by_id", columns=["id", "email", "name"]) is not None,
   "named statement, binary int4 parameter rendered as 2")
ok(find(s, params=["1", "jane.doe@example.org"], rows=1) is not None, "unnamed statement, two parameters")
r = find(s, query="SELECT * FROM missing_table WHERE id = $1")
ok(r and r["status"] == "error" and r["error"]["code"] == "42P01", "error in the extended protocol")
pipelined = [r for r in sessions[s] if r.get("statement") == "by_id" and r.get("command", "").startswith("SELECT")]
ok([r["params"] for r in pipelined][-3:] == [["1"], ["2"], ["3"]] and pipelined[-1]["rows"] == 0,
   "three pipelined Executes before one Sync, in order")

s = "gssenc_refused.bin"
ok(find(s, command="LOGIN", status="ok") is not None and find(s, query="SELECT 'ssl-prefer' AS mode", rows=1) is not None,
   "GSSENCRequest refused ('N'): the session goes on in clear and is parsed")

s = "multi_statement.bin"
r = find(s, status="error")
ok(r and r["error"]["code"] == "42601" and r["query"] == "SELECT 1 AS a",
   "multi-statement Query with a syntax error: one error record")
print("1..%d" % n)
PY
check "records checked" test $? -eq 0
tap_done
