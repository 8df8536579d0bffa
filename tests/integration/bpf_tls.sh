#!/usr/bin/env bash
# TLS cleartext through the OpenSSL uprobes: a python3 TLS server (self-signed certificate)
# answers a python3 client and curl -k over HTTPS on loopback while wirewatch captures with
# --source bpf. Their conn records must say tls: true and count the cleartext bytes (what the
# applications passed to SSL_write), not the ciphertext on the wire.
# Needs root (BPF), openssl and curl; skipped otherwise.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${ww:-}" ] && kill "$ww" 2>/dev/null; [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null' EXIT

if [ "$(id -u)" -ne 0 ] || [ ! -r /sys/kernel/btf/vmlinux ] || ! command -v openssl >/dev/null ||
	! command -v curl >/dev/null; then
	echo "ok 1 - # SKIP needs root, /sys/kernel/btf/vmlinux, openssl and curl"
	echo "1..1"
	exit 0
fi

port=$((47900 + $$ % 90))
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-days 1 -subj /CN=localhost 2>/dev/null
check "self-signed certificate made" test -s "$tmp/cert.pem"

# The server answers every request with the same body and writes, per connection, the
# cleartext bytes it received and sent.
cat >"$tmp/server.py" <<'PY'
import json, socket, ssl, sys
port, cert, key, out, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(4)
print("listening", flush=True)
body = b"x" * 3000
resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
seen = []
for _ in range(n):
    c, peer = ls.accept()
    t = ctx.wrap_socket(c, server_side=True)
    req = b""
    while b"\r\n\r\n" not in req:
        d = t.recv(4096)
        if not d:
            break
        req += d
    t.sendall(resp)
    t.close()
    seen.append({"client_port": peer[1], "req": len(req), "resp": len(resp)})
json.dump({"server": __import__("os").getpid(), "conns": seen}, open(out, "w"))
PY

"$WIREWATCH" --source bpf --duration 6 --redact none --output "file:$tmp/out.ndjson" \
	>"$tmp/ww.out" 2>"$tmp/ww.err" &
ww=$!
python3 "$tmp/server.py" "$port" "$tmp/cert.pem" "$tmp/key.pem" "$tmp/server.json" 2 \
	>"$tmp/server.out" &
srv=$!
sleep 2 # programs loaded and attached, server listening
python3 - "$port" >"$tmp/client.out" <<'PY'
import os, socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
t.sendall(b"GET /python HTTP/1.1\r\nHost: localhost\r\n\r\n")
got = b""
while True:
    d = t.recv(65536)
    if not d:
        break
    got += d
t.close()
print(os.getpid(), len(got))
PY
check "python3 TLS client got its answer" grep -q " 3060$" "$tmp/client.out"
curl -sk --http1.1 -o "$tmp/curl.body" "https://127.0.0.1:$port/curl" & curl_pid=$!
wait "$curl_pid"
check "curl -k got the body over TLS" test "$(wc -c <"$tmp/curl.body")" -eq 3000
wait "$srv"
srv=
wait "$ww"
rc=$?
ww=
check "wirewatch --source bpf exits 0" test $rc -eq 0
[ $rc -ne 0 ] && sed 's/^/# /' "$tmp/ww.err" | head -20

cat >"$tmp/check.py" <<'PY'
import json, sys
out, server, client_pid, curl_pid, port = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
closes = {}
for line in open(out):
    r = json.loads(line)
    if r.get("type") == "conn" and r["event"] == "close" and r["conn"]["dst"] == "127.0.0.1:%d" % port:
        if r["conn"]["id"] not in closes or r.get("reason") == "closed":
            closes[r["conn"]["id"]] = r
def tap(ok, name):
    print(("ok %s" if ok else "not ok %s") % name)
by_port = {c["client_port"]: c for c in server["conns"]}
for who, pid, role in (("python3 client", client_pid, "client"), ("curl", curl_pid, "client")):
    recs = [r for r in closes.values() if r["conn"]["pid"] == pid]
    tap(len(recs) == 1, "%s (pid %d): one connection record, got %d" % (who, pid, len(recs)))
    for r in recs:
        k = r["conn"]
        want = by_port.get(int(k["src"].rsplit(":", 1)[1]), {})
        tap(k["tls"] is True and k["role"] == role, "%s: tls %s role %s" % (who, k["tls"], k["role"]))
        tap(r["bytes_req"] == want.get("req") and r["bytes_resp"] == want.get("resp"),
            "%s: cleartext bytes_req %s (want %s) bytes_resp %s (want %s)" %
            (who, r["bytes_req"], want.get("req"), r["bytes_resp"], want.get("resp")))
srv = [r for r in closes.values() if r["conn"]["pid"] == server["server"]]
tap(len(srv) == 2 and all(r["conn"]["tls"] and r["conn"]["role"] == "server" for r in srv),
    "server: two TLS connections, role server (%d records)" % len(srv))
for r in srv:
    want = by_port.get(int(r["conn"]["src"].rsplit(":", 1)[1]), {})
    tap(r["bytes_req"] == want.get("req") and r["bytes_resp"] == want.get("resp"),
        "server %s: cleartext bytes_req %s (want %s) bytes_resp %s (want %s)" %
        (r["conn"]["id"], r["bytes_req"], want.get("req"), r["bytes_resp"], want.get("resp")))
PY
client_pid=$(cut -d' ' -f1 "$tmp/client.out")
while IFS= read -r line; do
	case $line in
	"ok "*) ok "${line#ok }" ;;
	"not ok "*) not_ok "${line#not ok }" ;;
	*) echo "# $line" ;;
	esac
done < <(python3 "$tmp/check.py" "$tmp/out.ndjson" "$tmp/server.json" "${client_pid:-0}" \
	"$curl_pid" "$port" 2>&1)
tap_done
