#!/usr/bin/env bash
# DNS end to end: a real dnsmasq on loopback (tests/lib/dns.sh) asked by dig over UDP and
# over TCP (several queries on one connection), captured with tcpdump; wirewatch reads
# the capture (--source pcap:) and must report every query once with its type, rcode and
# answers, and the same names, types and rcodes tshark decodes from the same capture.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/capture.sh
. tests/lib/dns.sh
tmp=$(mktemp -d)
port=$((44000 + RANDOM % 2000))
cleanup() { [ -n "${CAPTURE_PID:-}" ] && kill "$CAPTURE_PID" 2>/dev/null; dns_stop; rm -rf "$tmp"; }
trap cleanup EXIT

dns_start "$port" || { not_ok "dnsmasq starts on port $port"; tap_done; exit 1; }
ok "dnsmasq starts on port $port"
capture_start "$tmp/dns.pcap" "port $port"
d() { dig +time=2 +tries=1 -p "$port" @127.0.0.1 "$@" >/dev/null; }
d db.wirewatch.test A
d db.wirewatch.test AAAA
d www.wirewatch.test A
d wirewatch.test MX
d wirewatch.test TXT
d _ldap._tcp.wirewatch.test SRV
d wirewatch.test HTTPS
d -x 10.0.0.5
d nope.wirewatch.test A
d +noedns +ignore big.wirewatch.test TXT
d +tcp +keepopen db.wirewatch.test A wirewatch.test SOA wirewatch.test NS big.wirewatch.test TXT
check "dig ran" test $? -eq 0
capture_settle "$tmp/dns.pcap"
"$WIREWATCH" --source "pcap:$tmp/dns.pcap" --redact none --workers 2 \
	--output "file:$tmp/out.ndjson" 2>"$tmp/ww.err"
check "wirewatch reads the capture" test $? -eq 0
tshark -r "$tmp/dns.pcap" -d "udp.port==$port,dns" -d "tcp.port==$port,dns" -Y "dns.flags.response == 1" \
	-T fields -e dns.qry.name -e dns.qry.type -e dns.flags.rcode -E aggregator=$'\x1f' \
	2>/dev/null >"$tmp/tshark.txt"
check "tshark decodes the same capture" test -s "$tmp/tshark.txt"

python3 - "$tmp/out.ndjson" "$tmp/tshark.txt" <<'PY'
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1])]
q = [r for r in recs if r["type"] == "query" and r["proto"] == "dns"]
n = 0
def ok(cond, name):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
def one(**want):
    return [r for r in q if all(r.get(k) == v for k, v in want.items())]
udp = [r for r in q if r["conn"].get("transport") == "udp"]
tcp = [r for r in q if r["conn"].get("transport") != "udp"]
ok(len(q) == 14 and len(udp) == 10 and len(tcp) == 4, f"14 queries: 10 over UDP, 4 over TCP ({len(udp)}, {len(tcp)})")
ok(len(one(query="db.wirewatch.test", qtype="A", answers=["10.0.0.5"])) == 2, "A over UDP and TCP")
ok(len(one(qtype="AAAA", answers=["fd00::5"])) == 1, "AAAA")
ok(len(one(query="www.wirewatch.test", answers=["db.wirewatch.test", "10.0.0.5"])) == 1, "CNAME chain")
ok(len(one(query="5.0.0.10.in-addr.arpa", qtype="PTR", answers=["db.wirewatch.test"])) == 1, "PTR (dig -x)")
ok(len(one(query="nope.wirewatch.test", rcode="NXDOMAIN", status="error")) == 1, "NXDOMAIN")
tc = one(query="big.wirewatch.test")
ok(len(tc) == 2 and sorted("tc" in r["dns_flags"].split() for r in tc) == [False, True], "big TXT: TC over UDP, whole over TCP")
ok(len(one(qtype="HTTPS", answers=["1 . alpn=h2,h3 port=443"])) == 1, "HTTPS record")
ok(not [r for r in q if r["status"] == "incomplete"], "every query answered")
names = {"1": "A", "28": "AAAA", "15": "MX", "16": "TXT", "33": "SRV", "65": "HTTPS", "12": "PTR", "6": "SOA", "2": "NS"}
rcodes = {"0": "NOERROR", "3": "NXDOMAIN"}
theirs = collections.Counter()
for l in open(sys.argv[2]):
    f = l.rstrip("\n").split("\t")
    if len(f) == 3:
        theirs[(f[0], names.get(f[1], f[1]), rcodes.get(f[2], f[2]))] += 1
ours = collections.Counter((r["query"], r["qtype"], r["rcode"]) for r in q)
ok(ours == theirs, f"same names, types and rcodes as tshark ({sum(theirs.values())})" +
   ("" if ours == theirs else f"; {dict(ours - theirs)} / {dict(theirs - ours)}"))
print("1..%d" % n)
PY
check "records match what dig did" test $? -eq 0
tap_done
