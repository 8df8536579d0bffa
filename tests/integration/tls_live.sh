#!/usr/bin/env bash
# TLS handshakes end to end: a real nginx TLS listener on loopback, openssl s_client
# (TLS 1.3 and 1.2, with and without SNI/ALPN) and curl, captured with tcpdump; wirewatch
# reads the capture (--source pcap:) and must report one handshake record per connection
# with the SNI, negotiated version and cipher tshark decodes from the same capture.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/capture.sh
. tests/lib/nginx.sh
tmp=$(mktemp -d)
base=$((42000 + RANDOM % 2000)); port=$((base + 2))
cleanup() { [ -n "${CAPTURE_PID:-}" ] && kill "$CAPTURE_PID" 2>/dev/null; nginx_stop; rm -rf "$tmp"; }
trap cleanup EXIT

nginx_start "$base" || { not_ok "nginx (TLS) starts on port $port"; tap_done; exit 1; }
ok "nginx (TLS) starts on port $port"
capture_start "$tmp/tls.pcap" "tcp port $port"
s_client() {
	printf 'GET / HTTP/1.1\r\nHost: wirewatch.test\r\nConnection: close\r\n\r\n' |
		timeout 5 openssl s_client -connect "127.0.0.1:$port" -quiet "$@" >/dev/null 2>&1
}
for i in 1 2 3; do s_client -tls1_3 -servername "api$i.wirewatch.test" -alpn h2,http/1.1; done
s_client -tls1_2 -servername wirewatch.test -alpn http/1.1
s_client -tls1_2 -noservername
curl -sk -o /dev/null --resolve "wirewatch.test:$port:127.0.0.1" "https://wirewatch.test:$port/index.html"
check "clients ran" test $? -eq 0
capture_settle "$tmp/tls.pcap"
"$WIREWATCH" --source "pcap:$tmp/tls.pcap" --redact none --workers 2 \
	--output "file:$tmp/out.ndjson" 2>"$tmp/ww.err"
check "wirewatch reads the capture" test $? -eq 0
tshark -r "$tmp/tls.pcap" -Y "tls.handshake.type == 1" -T fields -e tcp.srcport \
	-e tls.handshake.extensions_server_name 2>/dev/null >"$tmp/sni.txt"
tshark -r "$tmp/tls.pcap" -Y "tls.handshake.type == 2" -T fields -e tcp.dstport \
	-e tls.handshake.ciphersuite -e tls.handshake.extensions.supported_version \
	-e tls.handshake.version 2>/dev/null >"$tmp/sh.txt"
check "tshark decodes the handshakes" test -s "$tmp/sni.txt"

python3 - "$tmp/out.ndjson" "$tmp/sni.txt" "$tmp/sh.txt" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
q = {int(r["conn"]["src"].rsplit(":", 1)[1]): r for r in recs if r["type"] == "query" and r["proto"] == "tls"}
n = 0
def ok(cond, name):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
ok(len(q) == 6 and all(r["status"] == "ok" for r in q.values()), f"six handshakes, all complete ({len(q)})")
ok(sorted(r.get("sni", "") for r in q.values()) ==
   sorted(["api1.wirewatch.test", "api2.wirewatch.test", "api3.wirewatch.test", "wirewatch.test", "wirewatch.test", ""]),
   "SNI of every handshake")
ok(sum(1 for r in q.values() if r.get("tls_version") == "TLSv1.3") == 4 and
   sum(1 for r in q.values() if r.get("cert_subject") == "C=US,O=Wirewatch Tests,CN=wirewatch.test") == 2,
   "four TLS 1.3, two TLS 1.2 with the certificate subject")
ok(all(r.get("ja4", "").startswith(("t13", "t12")) for r in q.values()), "JA4 on every handshake")
ok(all(r["conn"]["dst"].endswith(":%s" % r["conn"]["dst"].rsplit(":", 1)[1]) for r in q.values()), "endpoints")
same_sni = same_cipher = 0
lines = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip()]
for port, sni in lines:
    same_sni += q.get(int(port), {}).get("sni", "") == sni
names = {0x1301: "TLS_AES_128_GCM_SHA256", 0x1302: "TLS_AES_256_GCM_SHA384", 0x1303: "TLS_CHACHA20_POLY1305_SHA256",
         0xc02c: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", 0xc02b: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}
sh = [l.rstrip("\n").split("\t") for l in open(sys.argv[3]) if l.strip()]
for port, cs, sv, lv in sh:
    r = q.get(int(port), {})
    v = int(sv or lv, 16)
    same_cipher += r.get("tls_cipher") == names.get(int(cs, 16), "0x%04x" % int(cs, 16)) and \
        r.get("tls_version") == {0x0304: "TLSv1.3", 0x0303: "TLSv1.2"}.get(v)
ok(len(lines) == 6 and same_sni == 6, f"SNI equal to tshark's for {same_sni}/{len(lines)} ClientHellos")
ok(len(sh) == 6 and same_cipher == 6, f"cipher and version equal to tshark's for {same_cipher}/{len(sh)} ServerHellos")
print("1..%d" % n)
PY
check "records match what the clients did" test $? -eq 0
tap_done
