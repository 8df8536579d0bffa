#!/usr/bin/env bash
# The eBPF source on loopback: a python3 TCP server and client exchange a known number of
# bytes while wirewatch captures with --source bpf; the conn records of both processes must
# give the right role, comm, endpoints and exactly the bytes each side sent. Also: an fd
# number reused by the client gives two connections, a connection opened before wirewatch
# started is picked up with the right roles, and wirewatch never reports itself.
# Needs root (BPF); skipped otherwise.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${ww:-}" ] && kill "$ww" 2>/dev/null' EXIT

if [ "$(id -u)" -ne 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then
	echo "ok 1 - # SKIP needs root and /sys/kernel/btf/vmlinux"
	echo "1..1"
	exit 0
fi

port=$((47000 + $$ % 900))
req_bytes=3000
resp_bytes=50000 # larger than the 16 KiB capture budget: counted whole all the same

# Traffic: a connection made before wirewatch starts (used after "go"), then two fresh
# connections from one client process that closes the first before opening the second.
cat >"$tmp/traffic.py" <<'PY'
import json, os, socket, sys, time
port, nreq, nresp, go, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
req = bytes(i * 7 % 251 for i in range(nreq))
resp = bytes(i * 13 % 251 for i in range(nresp))

def recv_n(c, n):
    got = b""
    while len(got) < n:
        d = c.recv(65536)
        if not d:
            break
        got += d
    return got

def serve(c):
    ok = recv_n(c, nreq) == req
    c.sendall(resp)
    c.close()
    return ok

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(8)
pre_client = socket.create_connection(("127.0.0.1", port))
pre_server, _ = ls.accept()
pre_pid = os.fork()
if pre_pid == 0:  # the pre-existing pair's server side, in its own process
    ls.close()
    pre_client.close()
    while not os.path.exists(go):
        time.sleep(0.05)
    os._exit(0 if serve(pre_server) else 1)
pre_server.close()

while not os.path.exists(go):
    time.sleep(0.05)
pre_client.sendall(req)
pre_ok = recv_n(pre_client, nresp) == resp
pre_client.close()

server_pid = os.fork()
if server_pid == 0:
    ok = True
    for _ in range(2):
        c, _ = ls.accept()
        ok = serve(c) and ok
    ls.close()
    os._exit(0 if ok else 1)
ls.close()
client_pid = os.fork()
if client_pid == 0:
    ok, fds = True, []
    for _ in range(2):
        c = socket.create_connection(("127.0.0.1", port))
        fds.append(c.fileno())
        c.sendall(req)
        ok = recv_n(c, nresp) == resp and ok
        c.close()
    os._exit(0 if ok and fds[0] == fds[1] else 1)
ok = all(os.waitpid(p, 0)[1] == 0 for p in (pre_pid, server_pid, client_pid)) and pre_ok
json.dump({"client": client_pid, "server": server_pid, "pre_client": os.getpid(),
           "pre_server": pre_pid, "ok": ok}, open(out, "w"))
PY

python3 "$tmp/traffic.py" "$port" "$req_bytes" "$resp_bytes" "$tmp/go" "$tmp/pids.json" &
traffic=$!
sleep 0.5 # the pre-existing connection is up before the capture starts

"$WIREWATCH" --source bpf --duration 6 --redact none --output "file:$tmp/out.ndjson" \
	>"$tmp/ww.out" 2>"$tmp/ww.err" &
ww=$!
sleep 2 # programs loaded and attached
touch "$tmp/go"
wait "$traffic"
check "traffic ran (payloads intact, fd number reused)" \
	python3 -c "import json,sys; sys.exit(0 if json.load(open('$tmp/pids.json'))['ok'] else 1)"
wait "$ww"
rc=$?
ww=
check "wirewatch --source bpf exits 0" test $rc -eq 0
if [ $rc -ne 0 ]; then
	sed 's/^/# /' "$tmp/ww.err" | head -20
	grep -q "unknown source\|source 'bpf'" "$tmp/ww.err" &&
		echo "# the bpf source is not registered: add &bpf_source_ops to runtime/sources.c"
fi

# The checks print "ok NAME" / "not ok NAME"; tap.sh numbers them.
cat >"$tmp/check.py" <<'PY'
import collections, json, sys
out, pids, port, nreq, nresp = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def tap(ok, name):
    print(("ok %s" if ok else "not ok %s") % name)

records = collections.defaultdict(list)  # conn id -> its conn records, in output order
try:
    for line in open(out):
        r = json.loads(line)
        if r.get("type") == "conn":
            records[r["conn"]["id"]].append(r)
except FileNotFoundError:
    pass
# conn id -> {"open": rec, "close": rec}; the close that saw the close() wins over one
# written at shutdown (which a late, out-of-order open would cause: checked below)
conns = {}
for cid, recs in records.items():
    c = {}
    for r in recs:
        if r["event"] == "close" and "close" in c and c["close"].get("reason") == "closed":
            continue
        c[r["event"]] = r
    conns[cid] = c

def of(pid):
    return [c for c in conns.values() if ("close" in c or "open" in c) and
            (c.get("close") or c.get("open"))["conn"]["pid"] == pid and
            (c.get("close") or c.get("open"))["conn"]["dst"].endswith(":%d" % port)]

for who, role, nconn in (("client", "client", 2), ("server", "server", 2),
                         ("pre_client", "client", 1), ("pre_server", "server", 1)):
    cs = of(pids[who])
    tap(len(cs) == nconn, "%s (pid %d): %d connection(s) to port %d, got %d" %
        (who, pids[who], nconn, port, len(cs)))
    for c in cs:
        rec = c.get("close") or c.get("open")
        k = rec["conn"]
        tap(k["role"] == role and k["comm"] == "python3" and k["src"].startswith("127.0.0.1:")
            and k["dst"] == "127.0.0.1:%d" % port,
            "%s %s: role %s comm %s %s -> %s" % (who, k["id"], k["role"], k["comm"], k["src"], k["dst"]))
        tap("close" in c and rec["bytes_req"] == nreq and rec["bytes_resp"] == nresp,
            "%s %s: closed with bytes_req %s (want %d) bytes_resp %s (want %d)" %
            (who, k["id"], rec.get("bytes_req") if "close" in c else "-", nreq,
             rec.get("bytes_resp") if "close" in c else "-", nresp))
    if who in ("client", "server") and len(cs) == 2:
        ids = [c.get("close", c.get("open"))["conn"]["id"].split(":") for c in cs]
        tap(ids[0][1] == ids[1][1] and ids[0][2] != ids[1][2],
            "%s: same fd, two generations (%s, %s)" % (who, ":".join(ids[0]), ":".join(ids[1])))
ours = [cid for cid, recs in records.items()
        if recs[0]["conn"]["pid"] in pids.values() and recs[0]["conn"]["dst"].endswith(":%d" % port)]
dup = [cid for cid in ours if sum(r["event"] == "close" for r in records[cid]) != 1]
tap(not dup, "one close record per connection (duplicates: %s)" % dup)
# the client and server records of one connection name the same endpoints
cli = sorted((c.get("close") or c.get("open"))["conn"]["src"] for c in of(pids["client"]))
srv = sorted((c.get("close") or c.get("open"))["conn"]["src"] for c in of(pids["server"]))
tap(cli == srv and len(cli) == 2, "client and server agree on the client endpoints %s" % cli)
PY
while IFS= read -r line; do
	case $line in
	"ok "*) ok "${line#ok }" ;;
	"not ok "*) not_ok "${line#not ok }" ;;
	*) echo "# $line" ;;
	esac
done < <(python3 "$tmp/check.py" "$tmp/out.ndjson" "$tmp/pids.json" "$port" "$req_bytes" \
	"$resp_bytes" 2>&1)
self_pids=$(python3 -c "
import json
for l in open('$tmp/out.ndjson'):
    r = json.loads(l)
    if r.get('type') == 'conn' and r['conn']['comm'] == 'wirewatch':
        print(r['conn']['pid'])
" 2>/dev/null | sort -u)
check "wirewatch never reports its own sockets" test -z "$self_pids"
tap_done
