#!/usr/bin/env bash
# MySQL/MariaDB end to end: a real MariaDB 10.11 on loopback (started once, private data
# dir, unusual port), driven by the mariadb client (errors, USE, multi-statements, LOAD
# DATA LOCAL INFILE, --compress), mariadb-slap, the libmariadb client with server-side
# prepared statements (tests/tools/mysql_client.c), a raw client speaking
# CLIENT_DEPRECATE_EOF as MySQL 8 connectors do, and packets over 16 MiB both ways;
# captured with tcpdump, read by wirewatch with --source pcap:. Every statement must be
# reported once with the right command, rows, columns, parameters and errors, and every
# query tshark decodes from the same capture must be there too (differential).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/mariadb.sh
tmp=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "# keeping $tmp"
port=$((40000 + RANDOM % 10000))
cleanup() { [ -n "${dump_pid:-}" ] && kill "$dump_pid" 2>/dev/null; mdb_stop; [ -n "${KEEP:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT

mdb_start "$port" || { not_ok "MariaDB starts on port $port"; tap_done; exit 1; }
ok "MariaDB starts on port $port"

client=build/release/tests/tools/mysql_client
if [ ! -x "$client" ]; then # built by `make unit`; compiled here when that rule is missing
	client=$tmp/mysql_client
	gcc -O1 -Wall -Wextra -Werror $(mariadb_config --cflags) tests/tools/mysql_client.c \
		$(mariadb_config --libs) -o "$client"
fi

capture_start() {
	tcpdump -i lo -s 0 -B 131072 -U --immediate-mode -w "$1" "tcp port $port" 2>"$1.err" &
	dump_pid=$!
	for _ in $(seq 50); do grep -q listening "$1.err" && break; sleep 0.1; done
}

capture_start "$tmp/my.pcap"
printf '1,alice@example.com,Alice\n2,carl@example.com,Carl\n' >"$tmp/load.csv"
app_mariadb --force --local-infile=1 shop >/dev/null 2>&1 <<SQL
CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) UNIQUE NOT NULL, name VARCHAR(100), score DOUBLE, born DATE);
INSERT INTO customers (email, name) VALUES ('jane.doe@example.org', 'Jane Doe'), ('bob@example.com', 'Bob');
SELECT id, email FROM customers WHERE id = 1;
SELECT * FROM no_such_table;
INSERT INTO customers (email, name) VALUES ('bob@example.com', 'dup');
UPDATE customers SET name = 'Janet' WHERE id = 1;
SELEC 2;
USE shop
DELIMITER //
SELECT 1 AS a; SELECT 2 AS b//
SELECT 10 AS c; SELEC 20; SELECT 30//
DELIMITER ;
CREATE TABLE imported (id INT, email VARCHAR(100), name VARCHAR(100));
LOAD DATA LOCAL INFILE '$tmp/load.csv' INTO TABLE imported FIELDS TERMINATED BY ',';
SQL
mariadb --no-defaults -h 127.0.0.1 -P "$port" -u app -pwrong --protocol=tcp shop -e "SELECT 1" \
	>/dev/null 2>&1
"$client" 127.0.0.1 "$port" app app-secret shop >/dev/null
check "libmariadb prepared-statement client ran" test $? -eq 0
app_mariadb --compress shop >/dev/null <<'SQL'
SELECT seq, CONCAT('customer-', seq, '@example.com') AS email FROM seq_1_to_2000;
SELECT name FROM imported ORDER BY id;
SQL
check "mariadb --compress ran" test $? -eq 0
mariadb-slap --no-defaults -h 127.0.0.1 -P "$port" -u app -papp-secret --protocol=tcp \
	--create-schema=shop --no-drop --concurrency=2 --iterations=2 --number-of-queries=20 \
	--query="SELECT COUNT(*) FROM customers WHERE score IS NULL" >/dev/null 2>&1
check "mariadb-slap ran" test $? -eq 0
python3 - 127.0.0.1 "$port" app app-secret shop <<'PY'
# A raw client with CLIENT_DEPRECATE_EOF and CLIENT_MYSQL (a MySQL connector's view):
# mysql_native_password, text and binary results ended by OK packets, no EOFs.
import hashlib, socket, struct, sys
host, port, user, pw, db = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.create_connection((host, port))
buf = b""
def packet():
    global buf
    while len(buf) < 4 or len(buf) < 4 + (buf[0] | buf[1] << 8 | buf[2] << 16):
        d = s.recv(65536)
        if not d:
            raise SystemExit("raw client: connection closed")
        buf += d
    n = buf[0] | buf[1] << 8 | buf[2] << 16
    p, buf = buf[4:4 + n], buf[4 + n:]
    return p
def send(seq, payload):
    s.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)
def until_end(rows_follow):
    """Packets of one response up to its last: OK/ERR, or the 0xfe OK ending rows."""
    p = packet()
    if p[0] in (0x00, 0xff) and not rows_follow:
        return p
    while True:
        p = packet()
        if p[0] == 0xff or (p[0] == 0xfe and len(p) < 0xffffff):
            if p[0] == 0xfe and struct.unpack_from("<H", p, 3 if p[1] < 0xfb and p[2] < 0xfb else 3)[0] & 8:
                return until_end(False) if False else p
            return p
g = packet()
v = g.index(b"\0", 1) + 1 + 4
scramble = g[v:v + 8] + g[v + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10:][:12]
h1 = hashlib.sha1(pw.encode()).digest()
token = bytes(a ^ b for a, b in zip(h1, hashlib.sha1(scramble + hashlib.sha1(h1).digest()).digest()))
caps = 1 | 8 | 512 | 8192 | 32768 | (1 << 16) | (1 << 17) | (1 << 19) | (1 << 20) | (1 << 23) | (1 << 24)
lenc = lambda b: bytes([len(b)]) + b
attrs = lenc(b"program_name") + lenc(b"deprecate_eof")
send(1, struct.pack("<IIB", caps, 1 << 24, 33) + b"\0" * 23 + user.encode() + b"\0" + bytes([20]) +
     token + db.encode() + b"\0" + b"mysql_native_password\0" + lenc(attrs))
assert packet()[0] == 0
def query(sql):
    send(0, b"\x03" + sql)
    p = packet()
    if p[0] in (0x00, 0xff):
        return p
    while True:
        p = packet()
        if p[0] == 0xff or p[0] == 0xfe:
            return p
query(b"SELECT id, email FROM customers ORDER BY id")
query(b"SELECT * FROM no_such_table")
send(0, b"\x16SELECT email, born FROM customers WHERE id >= ?")
ok = packet()
stmt, ncols, nparams = struct.unpack_from("<IHH", ok, 1)
for _ in range(ncols + nparams):
    packet()
send(0, b"\x17" + struct.pack("<IBI", stmt, 0, 1) + b"\x00\x01\x03\x00" + struct.pack("<i", 2))
packet()
while packet()[0] != 0xfe:
    pass
send(0, b"\x19" + struct.pack("<I", stmt))
send(0, b"\x0e")
packet()
send(0, b"\x01")
s.close()
PY
check "raw CLIENT_DEPRECATE_EOF client ran" test $? -eq 0
capture_stop "$dump_pid" "$tmp/my.pcap"; dump_pid=
check "tcpdump captured every packet" grep -q "^0 packets dropped by kernel" "$tmp/my.pcap.err"

# packets over 16 MiB both ways, in a capture of their own (kept away from tshark)
capture_start "$tmp/big.pcap"
python3 -c "print(\"SELECT LENGTH('\" + 'a' * 17000000 + \"') AS n;\"); print(\"SELECT REPEAT('b', 17000000) AS big, 'after' AS tail;\")" |
	app_mariadb --max-allowed-packet=64M shop >/dev/null
check "17 MB query and 17 MB row through the server" test $? -eq 0
capture_stop "$dump_pid" "$tmp/big.pcap"; dump_pid=
check "tcpdump captured every large packet" grep -q "^0 packets dropped by kernel" "$tmp/big.pcap.err"

"$WIREWATCH" --source "pcap:$tmp/my.pcap" --redact none --workers 2 \
	--output "file:$tmp/out.ndjson" 2>"$tmp/ww.err"
check "wirewatch reads the capture" test $? -eq 0
"$WIREWATCH" --source "pcap:$tmp/big.pcap" --redact none --workers 2 \
	--output "file:$tmp/big.ndjson" 2>>"$tmp/ww.err"
check "wirewatch reads the capture of large packets" test $? -eq 0
tshark -r "$tmp/my.pcap" -d "tcp.port==$port,mysql" -Y mysql.query -T fields -e mysql.query \
	-E aggregator=$'\x1f' 2>/dev/null >"$tmp/tshark.txt"
check "tshark decodes queries from the same capture" test -s "$tmp/tshark.txt"

python3 - "$tmp/out.ndjson" "$tmp/tshark.txt" "$tmp/big.ndjson" <<'PY'
import json, sys, collections
def load(path):
    recs = [json.loads(l) for l in open(path)]
    counters = collections.Counter()
    for r in recs:
        if r["type"] == "stats":
            counters.update({k: v for k, v in r["counters"].items() if k.startswith("mysql_")})
    return [r for r in recs if r["type"] == "query" and r["proto"] == "mysql"], counters
q, counters = load(sys.argv[1])
n = 0
def ok(cond, name):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
def one(**want):
    return [r for r in q if all(r.get(k) == v for k, v in want.items())]

ok(len(one(query="SELECT id, email FROM customers WHERE id = 1", command="SELECT", rows=1,
           columns=["id", "email"])) == 1, "SELECT once: rows 1, columns")
r = one(query="SELECT * FROM no_such_table")
ok(len(r) == 2 and all(x["error"]["code"] == "1146" for x in r), "missing table: 1146 (mariadb client, raw client)")
r = [x for x in q if x.get("error", {}).get("code") == "1062"]
ok(len(r) == 2, f"duplicate key: 1062, from the client and from the prepared statement ({len(r)})")
ok(len(one(query="UPDATE customers SET name = 'Janet' WHERE id = 1", rows=1)) == 1, "UPDATE once, 1 row")
ok(len(one(query="SELEC 2", status="error")) == 1, "syntax error once: 1064")
ok(len(one(query="SELECT 1 AS a", rows=1)) == 1 and len(one(query="SELECT 2 AS b", rows=1)) == 1,
   "multi-statement: one record per result")
r = one(query="SELEC 20")
ok(len(one(query="SELECT 10 AS c", rows=1)) == 1 and len(r) == 1 and r[0]["error"]["code"] == "1064"
   and not one(query="SELECT 30"), "multi-statement stopped at its error")
ok(len(one(command="INIT_DB", db="shop", status="ok")) == 1, "USE: COM_INIT_DB once")
ok(len(one(command="LOAD", rows=2)) == 1, "LOAD DATA LOCAL INFILE: 2 rows")
r = [x for x in q if x.get("command") == "LOGIN" and x["status"] == "error"]
ok(len(r) == 1 and r[0]["error"]["code"] == "1045", "failed login once: 1045")
logins = [x for x in q if x.get("command") == "LOGIN" and x["status"] == "ok"]
ok(len(logins) == 9 and all(x.get("auth") == "mysql_native_password" and x.get("user") == "app" for x in logins),
   f"logins ok: client, prepared, compressed, raw, mariadb-slap's five ({len(logins)})")
ins = "INSERT INTO customers (email, name, score, born) VALUES (?, ?, ?, ?)"
ok(len(one(command="INSERT", query=ins, params=["carol@example.net", "Carol", "97.5", "1990-07-14"], rows=1)) == 1,
   "prepared INSERT: string, double, date parameters")
ok(len(one(command="INSERT", query=ins, params=["dave@example.net", "Dave", "NULL", "1990-07-14"], rows=1)) == 1,
   "prepared INSERT: NULL parameter")
sel = "SELECT id, email, name, score, born FROM customers WHERE id >= ?"
ok(len(one(command="SELECT", query=sel, params=["2"], rows=3)) == 1 and len(one(command="SELECT", query=sel, params=["3"], rows=2)) == 1,
   "prepared SELECT: binary rows counted")
ok(len(one(command="STMT_FETCH", rows=1)) == 4, "cursor: 4 fetches of one row")
r = one(query="SELECT x FROM scratch WHERE x = ?", command="SELECT")
ok(len(r) == 1 and r[0]["error"]["code"] == "1146", "failing execution: 1146")
ok(len(one(query="UPDATE customers SET score = score + 1 WHERE score IS NOT NULL")) == 1, "multi-statement from libmariadb")
ok(len(one(rows=2000, columns=["seq", "email"])) == 1, "compressed protocol: 2000 rows")
ok(len(one(query="SELECT name FROM imported ORDER BY id", rows=2)) == 1, "compressed protocol: second query")
slap = one(query="SELECT COUNT(*) FROM customers WHERE score IS NULL")
ok(len(slap) == 40 and all(x["rows"] == 1 for x in slap), f"mariadb-slap: 40 queries ({len(slap)})")
ok(len(one(query="SELECT id, email FROM customers ORDER BY id", application_name="deprecate_eof")) == 1
   and len(one(command="SELECT", query="SELECT email, born FROM customers WHERE id >= ?", params=["2"], rows=3)) == 1,
   "CLIENT_DEPRECATE_EOF client: text and binary results")
ok(not [x for x in q if x["status"] == "incomplete"], "no incomplete records")
ok(counters["mysql_malformed_total"] == 0 and counters["mysql_sequence_mismatch_total"] == 0
   and counters["mysql_unmatched_responses_total"] == 0, f"no malformed, out-of-sequence or unmatched packets {dict(counters)}")

# differential: every query text tshark decodes is a query wirewatch reported
ours = collections.Counter(x.get("query") for x in q)
theirs = collections.Counter()
for line in open(sys.argv[2]):
    for text in line.rstrip("\n").split("\x1f"):
        if text:
            theirs[text] += 1
missing = [t for t in theirs if t not in ours]
# multi-statement strings are reported statement by statement, up to the first error
errors = {x.get("query") for x in q if x["status"] == "error"}
def covered(t):
    for s in (s.strip() for s in t.split(";") if s.strip()):
        if s not in ours:
            return False
        if s in errors:
            return True
    return True
missing = [t for t in missing if not covered(t)]
ok(not missing, f"every query tshark decodes ({len(theirs)} distinct) is reported" +
   (f"; missing: {missing[:3]}" if missing else ""))
ok(all(ours[t] >= c for t, c in theirs.items() if t in ours),
   "each as often as tshark sees it")

big, big_counters = load(sys.argv[3])
r = [x for x in big if x.get("query", "").startswith("SELECT LENGTH('aaaa")]
ok(len(r) == 1 and r[0]["rows"] == 1 and r[0]["bytes_req"] > 17000000 and r[0].get("truncated"),
   "a 17 MB query (0xffffff continuation): one record, head of the text, rows 1")
r = [x for x in big if x.get("query", "").startswith("SELECT REPEAT('b'")]
ok(len(r) == 1 and r[0]["rows"] == 1 and r[0]["columns"] == ["big", "tail"] and r[0]["bytes_resp"] > 17000000,
   "a 17 MB row (0xffffff continuation): counted once")
ok(big_counters["mysql_oversize_total"] >= 2 and big_counters["mysql_sequence_mismatch_total"] == 0,
   f"oversize packets counted ({big_counters['mysql_oversize_total']}), sequence ids intact")
print("1..%d" % n)
PY
check "records match what the clients did" test $? -eq 0
tap_done
