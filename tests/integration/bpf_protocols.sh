#!/usr/bin/env bash
# The parsers of HTTP, Redis, memcached and TLS through the eBPF source, on both ends of
# each connection: real servers (nginx, redis-server, memcached) and their real clients
# (curl, redis-cli, a memcached text client), captured live by `--source bpf`. Every
# request the clients made must come out once per side with the right fields; the TLS
# request through nginx's TLS port comes out in clear from the OpenSSL uprobes.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/nginx.sh
. tests/lib/redis.sh
. tests/lib/memcached.sh
tmp=$(mktemp -d)
base=$((42000 + RANDOM % 8000))
cleanup() {
	[ -n "${ww:-}" ] && kill "$ww" 2>/dev/null
	nginx_stop; redis_stop; memcached_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

nginx_start "$base" && redis_start $((base + 10)) && memcached_start $((base + 11))
check "nginx, redis-server and memcached start" test $? -eq 0
# capture_and_check ATTEMPT: wirewatch on the bpf source while the clients run, then the
# records checked; the TAP lines go to $tmp/tap.ATTEMPT, the status says whether all passed
capture_and_check() {
	local attempt=$1
	rm -f "$tmp/out.ndjson"
"$WIREWATCH" --source bpf --redact none --output "file:$tmp/out.ndjson" 2>"$tmp/err" &
ww=$!
for _ in $(seq 100); do grep -q '"type"' "$tmp/out.ndjson" 2>/dev/null && break
	redis-cli -p $((base + 10)) ping >/dev/null 2>&1; sleep 0.1; done

for i in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$base/data.json?n=$i"; done
curl -s -o /dev/null "http://127.0.0.1:$base/missing"
curl -s -k -o /dev/null --http1.1 "https://127.0.0.1:$((base + 2))/index.html"
redis-cli -p $((base + 10)) set user:42 jane.doe@example.org >/dev/null
redis-cli -p $((base + 10)) get user:42 >/dev/null
redis-cli -p $((base + 10)) hget nosuchkey field >/dev/null
python3 - $((base + 11)) <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def ask(cmd, end):
    s.sendall(cmd)
    data = b""
    while not data.endswith(end):
        data += s.recv(4096)
ask(b"set session:7 0 60 5\r\nhello\r\n", b"STORED\r\n")
ask(b"get session:7 missing:1\r\n", b"END\r\n")
s.close()
PY
# a process doing its I/O through io_uring (wirewatch's own output does): not captured,
# but counted
"$WIREWATCH" --source synth:rate=2000 --duration 1 --output "file:$tmp/uring.ndjson" 2>/dev/null
sleep 1
kill -INT "$ww"; wait "$ww"
check "wirewatch --source bpf exits 0 (attempt $attempt)" test $? -eq 0
ww=

python3 - "$tmp/out.ndjson" "$base" >"$tmp/tap.$attempt" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
base = int(sys.argv[2])
q = [r for r in recs if r["type"] == "query"]
n = failed = 0
def ok(c, name):
    global n, failed
    n += 1
    failed += not c
    print(("ok %d - %s" if c else "not ok %d - %s") % (n, name))
    return c
def side(proto, role, port):
    return [r for r in q if r["proto"] == proto and r["conn"]["role"] == role
            and r["conn"]["dst"].endswith(f":{port}")]
for role, who in (("client", "curl"), ("server", "nginx")):
    h = side("http", role, base)
    gets = [r for r in h if r.get("path", "").startswith("/data.json?n=")]
    good = ok(len(gets) == 3 and all(r["method"] == "GET" and r["status_code"] == 200 and
                                     r.get("content_type") == "application/json" for r in gets),
              f"http, {role} side ({who}): three GETs, 200, application/json ({len(gets)})")
    if not good:  # what was seen instead, for the next one who reads a failed run
        fin = [r for r in recs if r["type"] == "stats" and r.get("final")]
        if fin:
            print("# ", json.dumps({k: v for k, v in fin[-1]["counters"].items()
                                   if any(w in k for w in ("late", "unknown", "drop", "lost",
                                                           "forced", "expired"))}))
        for r in recs:
            if r["conn"].get("comm") == who or r.get("proto") == "http":
                print("# ", json.dumps({k: r.get(k) for k in ("type", "event", "seen", "reason",
                      "proto", "path", "status", "status_code")} | {"conn": r["conn"]}))
    miss = [r for r in h if r.get("path") == "/missing"]
    ok(len(miss) == 1 and miss[0]["status_code"] == 404, f"http, {role} side: the 404")
    tls = side("http", role, base + 2)
    ok(len(tls) == 1 and tls[0]["conn"]["tls"] and tls[0].get("path") == "/index.html",
       f"https, {role} side: the request in clear from the TLS library, tls: true")
    r = side("redis", role, base + 10)
    ok(any(x.get("command") == "SET" and x.get("query") == "set user:42 jane.doe@example.org" for x in r)
       and any(x.get("command") == "GET" and x.get("query") == "get user:42" for x in r),
       f"redis, {role} side: SET and GET with their arguments")
    m = side("memcached", role, base + 11)
    ok(any(x.get("command") == "set" for x in m) and any(x.get("command") == "get" for x in m),
       f"memcached, {role} side: set and get")
final = [json.loads(l) for l in open(sys.argv[1]) if '"final":true' in l]
ok(final and final[-1]["counters"].get("bpf_io_uring_enter_total", 0) > 0,
   "io_uring submissions of a traced process are counted (bpf_io_uring_enter_total)")
print("1..%d" % n)
sys.exit(1 if failed else 0)
PY
}

# One capture, no second chance: the connection that went missing whole now and then was
# taken by the worker for a late event of a closed one (runtime/worker.c, recently_closed),
# which tests/unit/test_worker_order.c covers. A miss prints what was seen and the counters.
capture_and_check 1
rc=$?
cat "$tmp/tap.1"
check "records of every protocol on both ends" test "$rc" -eq 0
tap_done
