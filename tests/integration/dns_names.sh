#!/usr/bin/env bash
# conn.dst_name end to end through the eBPF source: a process asks a real DNS server
# (dnsmasq) for a name, then connects to the address it got; wirewatch must name the
# server of that connection by what DNS said, from the shared DNS cache.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/dns.sh
tmp=$(mktemp -d)
dns_port=$((40000 + RANDOM % 10000))
app_port=$((50000 + RANDOM % 10000))
cleanup() { [ -n "${ww:-}" ] && kill "$ww" 2>/dev/null; dns_stop; rm -rf "$tmp"; }
trap cleanup EXIT

dns_start "$dns_port" || { not_ok "dnsmasq starts"; tap_done; exit 1; }
ok "dnsmasq starts on port $dns_port"
"$WIREWATCH" --source bpf --redact none --output "file:$tmp/out.ndjson" 2>"$tmp/err" &
ww=$!
for _ in $(seq 100); do grep -q '"type"' "$tmp/out.ndjson" 2>/dev/null && break
	dig +short -p "$dns_port" @127.0.0.1 warmup.wirewatch.test >/dev/null 2>&1; sleep 0.1; done

addr=$(dig +short -p "$dns_port" @127.0.0.1 api.wirewatch.test)
check "dig resolves api.wirewatch.test to 127.0.0.7 ($addr)" test "$addr" = 127.0.0.7
tcp_addr=$(dig +tcp +short -p "$dns_port" @127.0.0.1 db.wirewatch.test)
check "dig over TCP resolves db.wirewatch.test ($tcp_addr)" test "$tcp_addr" = 10.0.0.5
python3 - "$app_port" <<'PY'
import socket, sys, threading, time
port = int(sys.argv[1])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.7", port)); srv.listen(1)
def serve():
    c, _ = srv.accept(); c.recv(100); c.sendall(b"pong"); time.sleep(0.3); c.close()
t = threading.Thread(target=serve); t.start()
time.sleep(0.3)  # the answer is in the cache well before the connection
c = socket.create_connection(("127.0.0.7", port)); c.sendall(b"ping"); c.recv(100); c.close()
t.join()
PY
sleep 1
kill -INT "$ww"; wait "$ww"; ww=
python3 - "$tmp/out.ndjson" "$app_port" <<'PY'
import json, sys
port = sys.argv[2]
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
dns = [r for r in recs if r["type"] == "query" and r["proto"] == "dns" and r.get("query") == "api.wirewatch.test"]
print(("ok" if dns and "127.0.0.7" in dns[0].get("answers", []) else "not ok") + " 1 - the DNS answer is recorded")
tcp = [r for r in recs if r["type"] == "query" and r["proto"] == "dns" and r.get("query") == "db.wirewatch.test"
       and r["conn"].get("transport") != "udp"]
roles = {r["conn"]["role"] for r in tcp}
print(("ok" if tcp and all("10.0.0.5" in r.get("answers", []) for r in tcp) and roles == {"client", "server"}
       else "not ok") + f" 3 - the query over TCP, seen from dig and from dnsmasq ({sorted(roles)})")
conn = [r for r in recs if r["type"] == "conn" and r["conn"].get("dst") == f"127.0.0.7:{port}"]
named = [r for r in conn if r["conn"].get("dst_name") == "api.wirewatch.test"]
print(("ok" if conn and named else "not ok") + f" 2 - the connection to 127.0.0.7 is named api.wirewatch.test ({len(named)}/{len(conn)} records)")
print("1..3")
PY
check "records name the server" test $? -eq 0
tap_done
