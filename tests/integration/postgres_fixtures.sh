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
. tests/lib/fixtures.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fixtures=(tests/fixtures/postgres/*.bin)
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
# "Jane Doe" under the bare `name` column is a person's name (two words, neither an
# ordinary one); "Bob Roe" is not taken ("roe" is an ordinary word)
ok(len(ins) == 1 and {p["type"] for p in ins[0].get("pii", [])} == {"email", "credit_card",
                                                                   "person_name"},
   "INSERT with an email, a card and a name: all found in the query")
ok(ins and "'j***@e***.org'" in ins[0]["query"] and "****-****-****-1111" in ins[0]["query"],
   "the query text shows the masked values")
sel = [r for r in recs if r.get("query") == "SELECT id, email FROM customers WHERE id = 1"]
ok(sel and sel[0]["pii"] == [{"type": "email", "where": "result", "column": "email", "count": 1,
                              "confidence": sel[0]["pii"][0]["confidence"], "sample": "j***@e***.org"}]
   and sel[0]["pii"][0]["confidence"] >= 0.9, "result cell: email in column email, masked sample")
ok(ins and {(p["type"], p["column"]) for p in ins[0]["pii"]} == {("email", "email"),
                                                                 ("credit_card", "card"),
                                                                 ("person_name", "name")},
   "INSERT findings name their columns from the column list")
par = [r for r in recs if r.get("params") and any("@" in p for p in r["params"])]
ok(par and all(p["column"] == "email" for r in par for p in r["pii"]),
   "bind parameter findings name the column of `email = $2`")
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
fixtures_run 5432 whole,splits,bytes "$tmp/out.ndjson" "${fixtures[@]}"
check "fixtures replay whole, at every split point and byte by byte" test $? -eq 0

fixtures_check "$tmp/out.ndjson" tests/fixtures/postgres/checks.py "${fixtures[@]}"
check "records checked" test $? -eq 0
tap_done
