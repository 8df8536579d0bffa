#!/usr/bin/env bash
# MySQL/MariaDB parser on byte vectors recorded from a real MariaDB 10.11 (Debian 12)
# through tests/tools/tcp_recorder.py: the mariadb client (DDL, DML, errors, USE, two
# multi-statement queries, LOAD DATA LOCAL INFILE), a failed login, libmariadb prepared
# statements (tests/tools/mysql_client.c: binary parameters and rows, NULL, a cursor with
# COM_STMT_FETCH, cached metadata), a raw client with CLIENT_DEPRECATE_EOF (as MySQL 8
# connectors speak), and the compressed protocol (mariadb --compress). Each session is
# replayed whole, cut at every byte position of every chunk, and byte by byte (the large
# compressed one whole and byte by byte), through the whole daemon (--source replay).
# Every variant must give exactly the records of the whole session, and the whole session
# the statements, commands, rows, columns, parameters and errors really exchanged.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fixtures=(tests/fixtures/mysql/{cli_session,auth_failed,prepared_statements,compressed,deprecate_eof}.bin)
large=tests/fixtures/mysql/compressed_large.bin
build/release/tests/tools/fixture_to_wwr "$tmp/my.wwr" 3306 whole,splits,bytes "${fixtures[@]}" &&
	build/release/tests/tools/fixture_to_wwr "$tmp/large.wwr" 3306 whole,bytes "$large"
check "fixtures converted to recordings" test $? -eq 0
"$WIREWATCH" --source "replay:$tmp/my.wwr" --redact none --workers 2 \
	--output "file:$tmp/out.ndjson" 2>"$tmp/err" &&
	"$WIREWATCH" --source "replay:$tmp/large.wwr" --redact none --workers 2 \
		--output "file:$tmp/large.ndjson" 2>>"$tmp/err"
check "replays exit 0" test $? -eq 0

python3 - "$tmp/out.ndjson" "$tmp/large.ndjson" "${fixtures[@]}" <<'PY'
import json, sys, collections

out, large_out, fixtures = sys.argv[1], sys.argv[2], sys.argv[3:]
n = 0
def ok(cond, name):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))

def load(path):
    by_conn = collections.defaultdict(list)
    counters = collections.Counter()
    for line in open(path):
        r = json.loads(line)
        if r["type"] == "stats":
            counters.update({k: v for k, v in r["counters"].items() if k.startswith("mysql_")})
        if r["type"] != "query":
            continue
        pid, fd, gen = r["conn"]["id"].split(":")
        key = {k: v for k, v in r.items() if k not in ("conn", "ts", "latency_us")}
        by_conn[(int(pid), int(fd))].append(key)
    return by_conn, counters

sessions = {}
def variants(by_conn, names):
    for i, name in enumerate(names):
        pid = 50000 + 4 + i   # fixture_to_wwr numbers fixtures by argv position
        conns = sorted(fd for (p, fd) in by_conn if p == pid)
        whole = by_conn.get((pid, 3), [])
        sessions[name] = whole
        ok(len(whole) > 0 and all(r["proto"] == "mysql" for r in whole),
           f"{name}: whole session gives mysql records ({len(whole)})")
        same = [fd for fd in conns if by_conn[(pid, fd)] == whole]
        ok(len(conns) >= 2 and len(same) == len(conns),
           f"{name}: {len(same)}/{len(conns)} split and byte-by-byte variants give identical records")
        for fd in conns:
            if by_conn[(pid, fd)] != whole:
                print("# first differing variant fd", fd)
                print("# whole:  ", json.dumps(whole)[:800])
                print("# variant:", json.dumps(by_conn[(pid, fd)])[:800])
                break

by_conn, counters = load(out)
variants(by_conn, [p.rsplit("/", 1)[1] for p in fixtures])
large_conns, large_counters = load(large_out)
variants(large_conns, ["compressed_large.bin"])
for c in (counters, large_counters):
    for k in ("mysql_malformed_total", "mysql_sequence_mismatch_total",
              "mysql_unmatched_responses_total", "mysql_compressed_lost_total"):
        ok(c[k] == 0, f"{k} is 0 ({c[k]})")

def find(session, **want):
    for r in sessions[session]:
        if all(r.get(k) == v for k, v in want.items()):
            return r
    return None

def count(session, **want):
    return sum(1 for r in sessions[session] if all(r.get(k) == v for k, v in want.items()))

s = "cli_session.bin"
ok(find(s, command="LOGIN", status="ok", user="app", db="shop", auth="mysql_native_password",
        application_name="mysql") is not None, "login: user, db, program_name, mysql_native_password")
r = find(s, query="SELECT id, email FROM customers WHERE id = 1")
ok(r and r["command"] == "SELECT" and r["rows"] == 1 and r["columns"] == ["id", "email"]
   and r["fingerprint"] == "SELECT id, email FROM customers WHERE id = ?" and r["status"] == "ok",
   "text query: command, rows, columns, fingerprint")
r = find(s, command="INSERT", status="ok")
ok(r and r["rows"] == 2 and r["fingerprint"].endswith("VALUES (?)"), "INSERT of two rows: affected rows 2")
r = find(s, query="SELECT * FROM no_such_table")
ok(r and r["status"] == "error" and r["error"]["code"] == "1146"
   and r["error"]["message"].startswith("[42S02] Table 'shop.no_such_table'"), "missing table: 1146 [42S02]")
r = find(s, status="error", query="INSERT INTO customers (email, name) VALUES ('bob@example.com', 'dup')")
ok(r and r["error"]["code"] == "1062" and r["error"]["message"].startswith("[23000] Duplicate entry"),
   "duplicate key: 1062 [23000]")
ok(find(s, query="UPDATE customers SET name = 'Janet' WHERE id = 1", rows=1, command="UPDATE") is not None,
   "UPDATE: 1 row affected")
r = find(s, query="SELEC 2")
ok(r and r["error"]["code"] == "1064", "syntax error: 1064")
ok(find(s, command="INIT_DB", status="ok", db="shop") is not None, "USE: COM_INIT_DB")
ok(count(s, query="SELECT 1 AS a", rows=1, columns=["a"]) == 2 and
   find(s, query="SELECT 2 AS b", rows=1, columns=["b"]) is not None,
   "multi-statement COM_QUERY: one record per result")
r = [x for x in sessions[s] if x.get("query") == "SELEC 2" and "SELECT 3" in x["error"]["message"]]
ok(len(r) == 1 and count(s, query="SELECT 3") == 0 and r[0]["error"]["code"] == "1064",
   "multi-statement stopped by an error: the statement after it is not reported")
ok(find(s, command="LOAD", rows=2, status="ok") is not None, "LOAD DATA LOCAL INFILE: 2 rows")
ok(find(s, query="SELECT name FROM imported ORDER BY id", rows=2, columns=["name"]) is not None,
   "rows loaded are there")
ok(find(s, command="QUIT", status="ok") is not None, "COM_QUIT")
ok(len(sessions[s]) == 18, f"mariadb client session: 18 records ({len(sessions[s])})")
ok(all(r.get("status") != "incomplete" for ss in sessions.values() for r in ss), "no incomplete records")

s = "auth_failed.bin"
r = find(s, command="LOGIN")
ok(r and r["status"] == "error" and r["error"]["code"] == "1045" and r["error"]["message"].startswith("[28000] Access denied")
   and r["user"] == "app", "failed login: 1045 [28000]")

s = "prepared_statements.bin"
ins = "INSERT INTO customers (email, name, score, born) VALUES (?, ?, ?, ?)"
ok(find(s, command="LOGIN", application_name="mysql_client", status="ok") is not None,
   "connection attribute program_name")
ok(find(s, command="PREPARE", query=ins, statement="1", status="ok") is not None, "COM_STMT_PREPARE: statement id 1")
ok(find(s, command="INSERT", statement="1", rows=1, params=["carol@example.net", "Carol", "97.5", "1990-07-14"]) is not None,
   "execute: string, double and date parameters in binary")
r = find(s, command="INSERT", statement="1", status="error")
ok(r and r["error"]["code"] == "1062" and r["params"] == ["carol@example.net", "Carol", "97.5", "1990-07-14"],
   "execute without new types (new-params-bound 0), duplicate key")
ok(find(s, command="INSERT", statement="1", rows=1, params=["dave@example.net", "Dave", "NULL", "1990-07-14"]) is not None,
   "NULL parameter from the NULL bitmap")
r = find(s, command="INSERT", statement="1", rows=1)
ok(r and {(p["type"], p["where"], p["column"]) for p in r.get("pii", [])}
   == {("email", "param", "email"), ("date_of_birth", "param", "born")},
   "prepared INSERT: parameter findings name the columns of VALUES (?, ?, ?, ?)")

sel = "SELECT id, email, name, score, born FROM customers WHERE id >= ?"
cols = ["id", "email", "name", "score", "born"]
ok(find(s, command="PREPARE", query=sel, columns=cols) is not None, "prepare: result columns")
ok(find(s, command="SELECT", statement="2", params=["2"], rows=3, columns=cols) is not None,
   "binary result set with cached metadata: 3 rows, columns from the prepare")
ok(find(s, command="SELECT", statement="2", params=["3"], rows=2) is not None, "second execution: 2 rows")
ok(find(s, command="STMT_RESET", statement="2", status="ok") is not None, "COM_STMT_RESET")
ok(count(s, command="STMT_CLOSE") == 4, "COM_STMT_CLOSE (no response) x4")
ok(count(s, command="STMT_FETCH", statement="3", rows=1) == 4 and count(s, command="STMT_FETCH", rows=0) == 1,
   "cursor: four COM_STMT_FETCH with one row, the last with none")
r = find(s, query="SELECT x FROM scratch WHERE x = ?", command="SELECT")
ok(r and r["status"] == "error" and r["error"]["code"] == "1146" and r["params"] == ["3"], "failing execute: 1146")
ok(find(s, query="SELECT COUNT(*) AS n FROM customers", rows=1, columns=["n"]) is not None
   and find(s, command="UPDATE", rows=1, query="UPDATE customers SET score = score + 1 WHERE score IS NOT NULL") is not None
   and find(s, query="SELECT 'done' AS status", rows=1) is not None,
   "multi-statement with CLIENT_MULTI_STATEMENTS: three records")
ok(find(s, command="PING", status="ok") is not None, "COM_PING")

s = "compressed.bin"
ok(find(s, command="SELECT", rows=300, columns=["seq", "label"]) is not None, "compressed: 300 rows")
ok(find(s, query="SELECT REPEAT('y', 3000) AS big", rows=1) is not None, "compressed: a 3000-byte value")
ok(find(s, query="SELECT email FROM customers WHERE id = 2", rows=1) is not None, "compressed: one more query")

s = "deprecate_eof.bin"
ok(find(s, command="LOGIN", application_name="deprecate_eof", status="ok") is not None, "raw client login")
ok(find(s, query="SELECT id, email FROM customers ORDER BY id", rows=4, columns=["id", "email"]) is not None,
   "CLIENT_DEPRECATE_EOF: rows end with an OK packet")
ok(find(s, query="SELECT 1 AS a", rows=1) is not None and find(s, query="SELECT 2 AS b", rows=1) is not None,
   "CLIENT_DEPRECATE_EOF: multi-results")
ok(find(s, command="PREPARE", columns=["email", "born"]) is not None, "CLIENT_DEPRECATE_EOF: prepare without EOFs")
ok(find(s, command="SELECT", params=["2"], rows=3, columns=["email", "born"]) is not None,
   "CLIENT_DEPRECATE_EOF: binary rows")
ok(find(s, query="SELECT * FROM no_such_table", status="error") is not None, "CLIENT_DEPRECATE_EOF: error")

s = "compressed_large.bin"
ok(find(s, rows=3000, columns=["seq", "email"]) is not None, "compressed: 3000 rows across 16 KiB frames")
ok(find(s, rows=20, columns=["seq", "a", "b", "c"]) is not None, "compressed: rows longer than the carry, cut by frames")
print("1..%d" % n)
PY
check "records checked" test $? -eq 0
tap_done
