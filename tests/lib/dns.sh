# Starts a private dnsmasq as the tests' DNS server (sourced).
#   dns_start PORT  -> dnsmasq on 127.0.0.1:PORT (UDP and TCP), no upstream, zone
#                      wirewatch.test served locally (unknown names: NXDOMAIN):
#     db.wirewatch.test      A 10.0.0.5, AAAA fd00::5 (and the PTR for 10.0.0.5)
#     www.wirewatch.test     CNAME db.wirewatch.test
#     wirewatch.test         MX 10 mail.wirewatch.test, TXT, NS, SOA, HTTPS (alpn h2,h3)
#     _ldap._tcp.wirewatch.test  SRV 1 5 389 ldap.wirewatch.test
#     svc.wirewatch.test     SVCB 1 db.wirewatch.test port=8443
#     big.wirewatch.test     TXT of ~800 bytes (truncated over UDP without EDNS)
#   dns_stop        -> stops it by pid and removes the directory
DNSMASQ_BIN=${DNSMASQ_BIN:-/usr/sbin/dnsmasq}

# wire form of a name, in hex (for --dns-rr rdata)
dns_wire_name() {
	python3 -c 'import sys; print("".join("%02x" % len(l) + l.encode().hex() for l in sys.argv[1].split(".") if l) + "00")' "$1"
}

dns_start() {
	DNS_PORT=$1
	DNS_DIR=$(mktemp -d /tmp/ww-dns.XXXXXX)
	local big ns soa https svcb
	big=$(python3 -c 'print(",".join(["\"" + c * 200 + "\"" for c in "abcd"]))')
	ns=$(dns_wire_name ns.wirewatch.test)
	soa=$(dns_wire_name ns.wirewatch.test)$(dns_wire_name hostmaster.wirewatch.test)$(printf '%08x%08x%08x%08x%08x' 2026112501 3600 600 86400 300)
	https=0001$(dns_wire_name .)0001000602683202683300030002 # alpn h2,h3; port (below)
	https=${https}01bb
	svcb=0001$(dns_wire_name db.wirewatch.test)0003000220fb
	"$DNSMASQ_BIN" --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
		--port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces \
		--pid-file="$DNS_DIR/dnsmasq.pid" --log-facility="$DNS_DIR/dnsmasq.log" --user=root \
		--local=/wirewatch.test/ --local-ttl=300 \
		--host-record=db.wirewatch.test,10.0.0.5,fd00::5 \
		--host-record=api.wirewatch.test,127.0.0.7 \
		--cname=www.wirewatch.test,db.wirewatch.test \
		--mx-host=wirewatch.test,mail.wirewatch.test,10 \
		--txt-record=wirewatch.test,"v=spf1 -all","second string" \
		--txt-record=big.wirewatch.test,"$big" \
		--srv-host=_ldap._tcp.wirewatch.test,ldap.wirewatch.test,389,1,5 \
		--dns-rr=wirewatch.test,2,"$ns" --dns-rr=wirewatch.test,6,"$soa" \
		--dns-rr=wirewatch.test,65,"$https" --dns-rr=svc.wirewatch.test,64,"$svcb" &
	DNS_PID=$!
	for _ in $(seq 50); do
		dig +short +time=1 +tries=1 -p "$DNS_PORT" @127.0.0.1 db.wirewatch.test 2>/dev/null |
			grep -q 10.0.0.5 && return 0
		sleep 0.1
	done
	cat "$DNS_DIR/dnsmasq.log" >&2
	return 1
}

dns_stop() {
	[ -n "${DNS_PID:-}" ] && kill "$DNS_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$DNS_PID" 2>/dev/null || break; sleep 0.1; done
	rm -rf "$DNS_DIR"
}
