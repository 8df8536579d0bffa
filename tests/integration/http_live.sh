#!/usr/bin/env bash
# HTTP/1.1 end to end: a real nginx on loopback driven by curl (keep-alive across many
# requests, HEAD, POST with 100-continue, chunked upload, 404, 204, 304, HTTP/1.0, a 64 KiB
# JSON body plain and gzip-compressed) and a pipelining client, captured with tcpdump; a
# second nginx sends the same JSON brotli-compressed by Debian's brotli filter module
# (chunked, Content-Encoding: br) and as a file compressed by the zstd tool, served with
# Content-Encoding: zstd;
# wirewatch reads the capture (--source pcap:) and must report every request once with its
# status, every email of the JSON body, and exactly the requests and status codes tshark
# decodes from the same capture (differential).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/capture.sh
. tests/lib/nginx.sh
tmp=$(mktemp -d)
port=$((46000 + RANDOM % 2000))
port2=$((port + 3)) # nginx_start takes port .. port + 2
nginx2_stop() {
	[ -s "$tmp/nginx2/nginx.pid" ] && kill -QUIT "$(cat "$tmp/nginx2/nginx.pid")" 2>/dev/null
	for _ in $(seq 50); do [ -e "$tmp/nginx2/nginx.pid" ] || break; sleep 0.1; done
}
cleanup() {
	[ -n "${CAPTURE_PID:-}" ] && kill "$CAPTURE_PID" 2>/dev/null
	nginx_stop
	nginx2_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

nginx_start "$port" || { not_ok "nginx starts on port $port"; tap_done; exit 1; }
ok "nginx starts on port $port"

# the second nginx: br from the brotli filter, zstd from a file compressed beforehand
mkdir -p "$tmp/nginx2/html"
cp "$NGINX_DIR/html/customers.json" "$tmp/nginx2/html/"
zstd -q -19 "$tmp/nginx2/html/customers.json" -o "$tmp/nginx2/html/customers.json.zst"
check "zstd compresses customers.json" test -s "$tmp/nginx2/html/customers.json.zst"
cat >"$tmp/nginx2/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_http_brotli_filter_module.so;
user root;
worker_processes 1;
pid $tmp/nginx2/nginx.pid;
error_log $tmp/nginx2/error.log warn;
events { worker_connections 64; }
http {
	access_log off;
	types { application/json json; }
	client_body_temp_path $tmp/nginx2/body;
	proxy_temp_path $tmp/nginx2/proxy;
	fastcgi_temp_path $tmp/nginx2/fastcgi;
	uwsgi_temp_path $tmp/nginx2/uwsgi;
	scgi_temp_path $tmp/nginx2/scgi;
	server {
		listen 127.0.0.1:$port2;
		root $tmp/nginx2/html;
		location = /customers.json { brotli on; brotli_comp_level 5; brotli_types application/json; }
		location = /customers.json.zst {
			types { }
			default_type application/json;
			add_header Content-Encoding zstd;
		}
	}
}
EOF
/usr/sbin/nginx -p "$tmp/nginx2" -c "$tmp/nginx2/nginx.conf" -e "$tmp/nginx2/error.log"
check "nginx with the brotli filter starts on port $port2" test $? -eq 0
for _ in $(seq 50); do [ -s "$tmp/nginx2/nginx.pid" ] && break; sleep 0.1; done
capture_start "$tmp/http.pcap" "tcp port $port or tcp port $port2"

u=http://127.0.0.1:$port
args=()
for i in $(seq 1 40); do args+=(--next -s -o /dev/null "$u/index.html?i=$i"); done
curl -s -o /dev/null "$u/data.json" "${args[@]}"
check "curl: 41 requests on one connection" test $? -eq 0
curl -s -o /dev/null -I "$u/data.json" --next -s -o /dev/null "$u/missing" --next -s -o /dev/null "$u/empty" \
	--next -s -o /dev/null -H "Expect: 100-continue" --data-binary "@tests/fixtures/http/record.sh" "$u/echo" \
	--next -s -o /dev/null -H "Transfer-Encoding: chunked" --data-binary "name=jane" "$u/echo"
curl -s -o /dev/null --http1.0 "$u/chunked"
curl -s -o /dev/null "$u/customers.json?plain" --next -s -o /dev/null --compressed "$u/customers.json?gzip"
check "curl: customers.json plain and gzip" test $? -eq 0
u2=http://127.0.0.1:$port2
curl -s -D "$tmp/br.head" -o /dev/null -H "Accept-Encoding: br" "$u2/customers.json?br" \
	--next -s -D "$tmp/zstd.head" -o /dev/null "$u2/customers.json.zst?zstd"
check "curl: customers.json br and zstd" test $? -eq 0
check "nginx sent br" grep -qi '^Content-Encoding: br' "$tmp/br.head"
check "nginx sent zstd" grep -qi '^Content-Encoding: zstd' "$tmp/zstd.head"
etag=$(curl -s -D - -o /dev/null "$u/index.html" | tr -d '\r' | sed -n 's/^ETag: //Ip')
curl -s -o /dev/null -H "If-None-Match: $etag" "$u/index.html"
python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
req = "".join("GET /chunked?p=%d HTTP/1.1\r\nHost: wirewatch.test\r\n\r\n" % i for i in range(10))
s.sendall(req.encode())
buf = b""
while buf.count(b"0\r\n\r\n") < 10:
    buf += s.recv(65536)
s.close()
PY
check "pipelining client ran" test $? -eq 0
capture_settle "$tmp/http.pcap"
check "tcpdump captured every packet" grep -q "^0 packets dropped by kernel" "$tmp/http.pcap.err"

"$WIREWATCH" --source "pcap:$tmp/http.pcap" --redact none --workers 2 \
	--output "file:$tmp/out.ndjson" 2>"$tmp/ww.err"
check "wirewatch reads the capture" test $? -eq 0
tshark -r "$tmp/http.pcap" -d "tcp.port==$port,http" -d "tcp.port==$port2,http" -Y http.request -T fields \
	-e http.request.method -e http.request.uri -E aggregator=$'\x1f' 2>/dev/null >"$tmp/tshark_req.txt"
tshark -r "$tmp/http.pcap" -d "tcp.port==$port,http" -d "tcp.port==$port2,http" -Y "http.response" -T fields \
	-e http.response.code -E aggregator=$'\x1f' 2>/dev/null >"$tmp/tshark_resp.txt"
check "tshark decodes the same capture" test -s "$tmp/tshark_req.txt"

python3 - "$tmp/out.ndjson" "$tmp/tshark_req.txt" "$tmp/tshark_resp.txt" <<'PY'
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1])]
q = [r for r in recs if r["type"] == "query" and r["proto"] == "http"]
n = 0
def ok(cond, name):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
def one(**want):
    return [r for r in q if all(r.get(k) == v for k, v in want.items())]
ok(len([r for r in q if r["path"].startswith("/index.html?i=")]) == 40, "40 keep-alive requests, once each")
ok(len(one(method="HEAD", path="/data.json", status_code=200)) == 1, "HEAD once")
ok(len(one(path="/missing", status_code=404, status="error")) == 1, "404 once, an error")
ok(len(one(path="/empty", status_code=204)) == 1, "204 once")
posts = one(method="POST", path="/echo")
ok(len(posts) == 2 and all(r["status_code"] == 200 for r in posts), "100-continue and chunked POSTs answered 200")
ok(len(one(path="/chunked", status_code=200)) == 1, "HTTP/1.0 close-delimited response")
ok(len(one(path="/index.html", status_code=304)) == 1, "conditional GET: 304")
ok(sorted(r["path"] for r in q if r["path"].startswith("/chunked?p=")) ==
   sorted("/chunked?p=%d" % i for i in range(10)), "10 pipelined requests, each paired")
ok(not [r for r in q if r["status"] == "incomplete"], "no incomplete records")
def body_emails(r):
    return sum(p["count"] for p in (r or {}).get("pii", []) if p["type"] == "email" and p["where"] == "body")
plain, gz = one(path="/customers.json?plain"), one(path="/customers.json?gzip")
ok(len(plain) == 1 and body_emails(plain[0]) == 300 and plain[0]["bytes_resp"] > 60000,
   f"64 KiB JSON body: all 300 emails ({body_emails(plain[0]) if plain else None})")
ok(len(gz) == 1 and body_emails(gz[0]) == 300 and gz[0]["bytes_resp"] < 30000,
   f"the same body gzip-compressed by nginx: all 300 emails ({body_emails(gz[0]) if gz else None})")
br, zs = one(path="/customers.json?br"), one(path="/customers.json.zst?zstd")
ok(len(br) == 1 and body_emails(br[0]) == 300 and br[0]["bytes_resp"] < 30000,
   f"the same body br-compressed by nginx's brotli filter: all 300 emails ({body_emails(br[0]) if br else None})")
ok(len(zs) == 1 and body_emails(zs[0]) == 300 and zs[0]["bytes_resp"] < 30000,
   f"the same body zstd-compressed, served as is: all 300 emails ({body_emails(zs[0]) if zs else None})")
ours = collections.Counter((r["method"], r["path"]) for r in q)
theirs = collections.Counter()
for l in open(sys.argv[2]):
    if l.strip():  # several pipelined requests in one frame: fields joined by \x1f
        m, u = l.rstrip("\n").split("\t")
        theirs.update(zip(m.split("\x1f"), u.split("\x1f")))
ok(ours == theirs, f"same requests as tshark ({sum(theirs.values())})" +
   ("" if ours == theirs else f"; diff {list((ours - theirs).items())[:3]} / {list((theirs - ours).items())[:3]}"))
ours_codes = collections.Counter(str(r["status_code"]) for r in q if "status_code" in r)
theirs_codes = collections.Counter(c for l in open(sys.argv[3]) for c in l.strip().split("\x1f")
                                   if c and c != "100")
ok(ours_codes == theirs_codes, f"same final status codes as tshark {dict(theirs_codes)}")
print("1..%d" % n)
PY
check "records match what the clients did" test $? -eq 0
tap_done
