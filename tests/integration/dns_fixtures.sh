#!/usr/bin/env bash
# DNS parser on messages recorded from a real dnsmasq (tests/fixtures/dns/record.sh): UDP
# from one resolver socket (A and AAAA in flight together, paired by ID), dig over UDP, a
# truncated (TC) UDP answer, dig +tcp with several length-prefixed messages on one
# connection (replayed whole, at every split and byte by byte), and synthetic hostile
# messages (compression loops, forward pointers, over-long names, cut messages).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/fixtures.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

udp=(tests/fixtures/dns/*.udp)
build/release/tests/tools/udp_to_wwr "$tmp/udp.wwr" 53 "${udp[@]}" &&
	"$WIREWATCH" --source "replay:$tmp/udp.wwr" --redact none --workers 2 \
		--output "file:$tmp/udp.ndjson" 2>"$tmp/udp.err"
check "UDP fixtures replayed" test $? -eq 0
fixtures_run 53 whole,splits,bytes "$tmp/tcp.ndjson" tests/fixtures/dns/dig_tcp.bin
check "TCP fixture replayed" test $? -eq 0

cat >"$tmp/udp.py" <<'PY'
s = "udp_resolver"
ok(find(s, query="db.wirewatch.test", qtype="A", answers=["10.0.0.5"], rcode="NOERROR") is not None and
   find(s, query="db.wirewatch.test", qtype="AAAA", answers=["fd00::5"]) is not None,
   "A and AAAA in flight together, each paired with its own answer by ID")
ok(find(s, query="www.wirewatch.test", answers=["db.wirewatch.test", "10.0.0.5"]) is not None, "CNAME chain")
ok(find(s, qtype="MX", answers=["10 mail.wirewatch.test"]) is not None, "MX")
ok(find(s, qtype="TXT", answers=["v=spf1 -all second string"]) is not None, "TXT strings")
ok(find(s, qtype="NS", answers=["ns.wirewatch.test"]) is not None, "NS")
ok(find(s, qtype="SOA", answers=["ns.wirewatch.test hostmaster.wirewatch.test 2026112501 3600 600 86400 300"]) is not None, "SOA")
ok(find(s, qtype="SRV", answers=["1 5 389 ldap.wirewatch.test"]) is not None, "SRV")
ok(find(s, qtype="HTTPS", answers=["1 . alpn=h2,h3 port=443"]) is not None, "HTTPS (RFC 9460) with alpn and port")
ok(find(s, qtype="SVCB", answers=["1 db.wirewatch.test port=8443"]) is not None, "SVCB")
ok(find(s, query="5.0.0.10.in-addr.arpa", qtype="PTR", answers=["db.wirewatch.test"]) is not None, "PTR")
r = find(s, query="nope.wirewatch.test")
ok(r and r["rcode"] == "NXDOMAIN" and r["status"] == "error" and r["error"]["code"] == "NXDOMAIN", "NXDOMAIN")
ok(len(sessions[s]) == 12 and all(r["status"] != "incomplete" for r in sessions[s]), f"12 queries, all answered ({len(sessions[s])})")
r = find("dig_udp", query="www.wirewatch.test")
ok(r and r["dns_flags"] == "qr aa rd ra" and r["answers"][-1] == "10.0.0.5", "dig over UDP (EDNS, cookie)")
r = find("tc_udp", query="big.wirewatch.test")
ok(r and "tc" in r["dns_flags"].split() and "answers" not in r, "truncated answer: TC flag")
h = sessions["hostile"]
ok(len(h) >= 1 and all(r["query"] == "loop.wirewatch.test" for r in h), f"hostile messages survived ({len(h)} records)")
ok(not any("answers" in r and "10.0.0.1" in r["answers"] for r in h), "an answer behind a compression loop is not decoded")
PY
fixtures_check "$tmp/udp.ndjson" "$tmp/udp.py" "${udp[@]}"
check "UDP records checked" test $? -eq 0
cat >"$tmp/tcp.py" <<'PY'
s = "dig_tcp"
ok([(r["query"], r["qtype"], r["rcode"]) for r in sessions[s]] ==
   [("db.wirewatch.test", "A", "NOERROR"), ("db.wirewatch.test", "AAAA", "NOERROR"),
    ("wirewatch.test", "MX", "NOERROR"), ("big.wirewatch.test", "TXT", "NOERROR"),
    ("nope.wirewatch.test", "A", "NXDOMAIN")], "five messages on one TCP connection")
r = find(s, qtype="TXT")
ok(r and "tc" not in r["dns_flags"] and len(r["answers"][0]) > 800, "the big TXT whole over TCP")
PY
fixtures_check "$tmp/tcp.ndjson" "$tmp/tcp.py" tests/fixtures/dns/dig_tcp.bin
check "TCP records checked" test $? -eq 0
tap_done
