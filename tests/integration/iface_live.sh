#!/usr/bin/env bash
# Live capture (--source iface:NAME) on a veth pair inside a network namespace this test
# creates and deletes: tcpdump records real traffic on the namespace's loopback (a Python
# client and server: TCP over IPv4 and IPv6, small segments and a bulk transfer, and UDP),
# tcpreplay sends that capture into one end of the veth pair, and wirewatch captures on
# the other end. Per connection it must report exactly the bytes each side sent, the same
# conn records as --source pcap: over the capture, and no kernel drops; with one reader
# and with a fanout of two; with --filter; with the frames VLAN-tagged on the wire. The
# capture also holds HTTP exchanges, which the differential harness tests/diff/tshark_diff.py
# compares with what tshark decodes (offline, and from the live run's records).
# Nothing leaves the namespace: no address outside this machine is ever used.
#
# Needs root, ip (iproute2), tcpdump, tcpreplay, python3, curl, tshark (the diff checks).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
tmp=$(mktemp -d)
ns=wwlive$$
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	ip netns del "$ns" 2>/dev/null
	[ -n "${KEEP_TMP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

skip_all() {
	echo "ok 1 - live capture tests # SKIP $*"
	echo "1..1"
	exit 0
}
[ "$(id -u)" -eq 0 ] || skip_all "needs root (network namespace, AF_PACKET)"
for t in ip tcpdump tcpreplay python3 curl; do
	command -v $t >/dev/null || skip_all "$t not installed (tools/deps.sh)"
done
"$WIREWATCH" --source iface: 2>"$tmp/probe.err"
grep -q "unknown source" "$tmp/probe.err" && skip_all "iface source not registered"

# ---- the namespace: lo for making the capture, va -> vb for replaying it. MTU 65535:
# frames captured on lo are up to 64 KiB (TSO), and veth forwards only what fits its MTU.
ip netns add "$ns" || skip_all "cannot create a network namespace"
ip -n "$ns" link set lo up
ip -n "$ns" link add va type veth peer name vb
ip -n "$ns" link set va mtu 65535
ip -n "$ns" link set vb mtu 65535
ip -n "$ns" link set va up
ip -n "$ns" link set vb up
nsx() { ip netns exec "$ns" "$@"; } # not for background jobs: $! must be the program
nsx ip link show vb >/dev/null
check "namespace $ns with veth va/vb" test $? -eq 0

port=$((20000 + RANDOM % 20000))
uport=$((port + 1))
hport=$((port + 2))


# check.py WANT NDJSON [tcp|udp]: the last conn record of every client port of that
# transport has bytes_req/bytes_resp as sent and nothing lost; no record of the other.
cat >"$tmp/check.py" <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))
only = sys.argv[3] if len(sys.argv) > 3 else None
last = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r.get("type") == "conn":
        last[int(r["conn"]["src"].rsplit(":", 1)[1])] = r
bad = []
for w in want:
    r = last.get(w["client_port"])
    if only and w["proto"] != only:
        if r is not None:
            bad.append("port %d: filtered out, yet a conn record" % w["client_port"])
        continue
    if r is None:
        bad.append("no conn record for client port %d" % w["client_port"])
        continue
    got = (r["bytes_req"], r["bytes_resp"], r.get("lost_req", 0), r.get("lost_resp", 0))
    if got != (w["req"], w["resp"], 0, 0):
        bad.append("port %d: got %s want %s" % (w["client_port"], got, (w["req"], w["resp"], 0, 0)))
for b in bad:
    print("# " + b)
sys.exit(1 if bad else 0)
PY

# same.py A B: the same conn records per connection (event, bytes, lost) in both files
cat >"$tmp/same.py" <<'PY'
import json, sys
def conns(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        if r.get("type") == "conn" and r.get("event") != "open":
            out[(r["conn"]["src"], r["conn"]["dst"])] = (r["event"], r.get("reason"),
                r["bytes_req"], r["bytes_resp"], r.get("lost_req", 0), r.get("lost_resp", 0))
    return out
a, b = conns(sys.argv[1]), conns(sys.argv[2])
for k in sorted(set(a) | set(b)):
    if a.get(k) != b.get(k):
        print("# %s: live %s offline %s" % (k, a.get(k), b.get(k)))
sys.exit(0 if a == b and a else 1)
PY

# stat.py NDJSON NAME: the counter NAME in the final stats record
stat() {
	python3 -c '
import json, sys
v = [json.loads(l) for l in open(sys.argv[1]) if "\"stats\"" in l]
v = [r for r in v if r.get("final")]
print(v[-1]["counters"].get(sys.argv[2], -1) if v else -1)' "$1" "$2"
}

# ---- the capture of real traffic, inside the namespace (retry if tcpdump lost any)
capture() {
	local td
	rm -f "$tmp/lo.pcap" "$tmp/want.json"
	ip netns exec "$ns" tcpdump -i lo -B 65536 -U -w "$tmp/lo.pcap" "port $port or port $uport or port $hport" 2>"$tmp/td.err" &
	td=$!
	pids+=("$td")
	for _ in $(seq 50); do grep -q listening "$tmp/td.err" && break; sleep 0.1; done
	timeout 30 ip netns exec "$ns" python3 tests/lib/loopback_traffic.py "$port" "$uport" "$tmp/want.json" \
		--http "$hport" --extra-flows 8
	sleep 0.5
	kill -INT "$td"
	wait "$td" 2>/dev/null
	grep -q "^0 packets dropped by kernel" "$tmp/td.err"
}
for attempt in 1 2 3; do
	capture && break
	echo "# attempt $attempt: tcpdump lost packets, capturing again"
	port=$((port + 3))
	uport=$((port + 1))
	hport=$((port + 2))
done
check "traffic ran" test -s "$tmp/want.json"
check "tcpdump captured every packet" grep -q "^0 packets dropped by kernel" "$tmp/td.err"
frames=$(tcpdump -r "$tmp/lo.pcap" 2>/dev/null | wc -l)

"$WIREWATCH" --source "pcap:$tmp/lo.pcap" --workers 2 --output "file:$tmp/offline.ndjson" \
	2>"$tmp/offline.err"
check "offline: the capture read with --source pcap:" python3 "$tmp/check.py" \
	"$tmp/want.json" "$tmp/offline.ndjson"

# live NAME PCAP READERS [wirewatch args...]: wirewatch on vb while tcpreplay sends PCAP
# into va; waits until the readers' sockets are bound before replaying.
live() {
	local name=$1 pcap=$2 readers=$3 ww n
	shift 3
	printf 'runtime:\n  readers: %s\n' "$readers" >"$tmp/$name.yaml"
	rm -f "$tmp/$name.ndjson"
	ip netns exec "$ns" "$WIREWATCH" --config "$tmp/$name.yaml" --source iface:vb --duration 3 --workers 2 \
		--metrics 127.0.0.1:9100 --output "file:$tmp/$name.ndjson" "$@" 2>"$tmp/$name.err" &
	ww=$!
	pids+=("$ww")
	# /proc/net/packet of the namespace: the capture sockets, protocol ETH_P_ALL once bound;
	# the filter goes on right after the last bind (runtime/source_iface.c)
	for _ in $(seq 40); do
		n=$(nsx awk '$4 == "0003"' /proc/net/packet | wc -l)
		[ "$n" -ge "$readers" ] && break
		sleep 0.05
	done
	sleep 0.3
	nsx tcpreplay -q -i va --topspeed "$pcap" >"$tmp/$name.replay" 2>&1
	check "$name: tcpreplay sent the capture" test $? -eq 0
	sleep 0.3 # a partly filled block is handed over after 10 ms
	nsx curl -s http://127.0.0.1:9100/metrics >"$tmp/$name.metrics"
	wait "$ww"
	check "$name: wirewatch exits 0" test $? -eq 0
}

for readers in 1 2; do
	name=live-$readers
	live "$name" "$tmp/lo.pcap" "$readers"
	check "$name: every connection's bytes_req/bytes_resp as sent, nothing lost" \
		python3 "$tmp/check.py" "$tmp/want.json" "$tmp/$name.ndjson"
	check "$name: the same conn records as --source pcap: over the capture" \
		python3 "$tmp/same.py" "$tmp/$name.ndjson" "$tmp/offline.ndjson"
	drops=$(stat "$tmp/$name.ndjson" iface_kernel_drops_total)
	check "$name: no kernel drops (iface_kernel_drops_total=$drops)" test "$drops" = 0
	seen=$(stat "$tmp/$name.ndjson" iface_kernel_packets_total)
	# the namespace may add a frame or two of its own (IPv6 router solicitations)
	check "$name: the kernel offered every replayed frame ($seen of $frames)" \
		test "$seen" -ge "$frames" -a "$seen" -le $((frames + 8))
done
readers_used=$(grep -cE '^wirewatch_iface_frames_total\{reader="[01]"\} [1-9]' "$tmp/live-2.metrics")
check "live-2: the fanout gave frames to both readers (metrics)" test "$readers_used" -eq 2

# the differential harness on the same capture: wirewatch offline and live against tshark
diff_http() {
	local what=$1
	shift
	check "tshark_diff: HTTP $what" tests/diff/tshark_diff.py --proto http -d "tcp.port==$hport,http" \
		"$@" "$tmp/lo.pcap"
}
if command -v tshark >/dev/null; then
	diff_http "method and path (offline)" --fields method,path \
		--tshark-fields http.request.method,http.request.uri
	diff_http "status codes in order (offline)" --fields status_code \
		--tshark-fields http.response.code --mode ordered --ww-arg=--workers --ww-arg=1
	diff_http "method, path and host (live, 2 readers)" --ndjson "$tmp/live-2.ndjson" \
		--fields method,path,host --tshark-fields http.request.method,http.request.uri,http.host
	tests/diff/tshark_diff.py --proto http --fields method --tshark-fields http.request.uri \
		-d "tcp.port==$hport,http" "$tmp/lo.pcap" >"$tmp/diff-neg.out"
	check "tshark_diff: fields that differ are reported (exit 1)" test $? -eq 1
	check "... with the rows only one side has" grep -q "only in tshark" "$tmp/diff-neg.out"
else
	ok "tshark_diff checks # SKIP tshark not installed"
fi

live filter-tcp "$tmp/lo.pcap" 2 --filter "tcp port $port"
check "--filter 'tcp port $port': the TCP connections only" \
	python3 "$tmp/check.py" "$tmp/want.json" "$tmp/filter-tcp.ndjson" tcp
live filter-udp "$tmp/lo.pcap" 1 --filter "udp and port $uport"
check "--filter 'udp and port $uport': the UDP flow only" \
	python3 "$tmp/check.py" "$tmp/want.json" "$tmp/filter-udp.ndjson" udp

nsx "$WIREWATCH" --source iface:vb --filter "tcp port nonsense" --duration 1 \
	--output "file:$tmp/bad.ndjson" 2>"$tmp/bad.err"
check "a filter that does not compile exits 2" test $? -eq 2
nsx "$WIREWATCH" --source iface:nosuch0 --duration 1 --output "file:$tmp/bad.ndjson" \
	2>"$tmp/nosuch.err"
check "an interface that does not exist exits 2" test $? -eq 2
check "... and says so" grep -q "iface:nosuch0: no such network interface" "$tmp/nosuch.err"

# 802.1Q on the wire: the kernel strips the tag before the ring (tp_vlan_tci). The tag is
# added here rather than with tcprewrite, which cuts frames at 65535 bytes.
python3 - "$tmp/lo.pcap" "$tmp/vlan.pcap" <<'PY'
import struct, sys
src, dst = open(sys.argv[1], "rb"), open(sys.argv[2], "wb")
hdr = src.read(24)
endian = "<" if hdr[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
assert struct.unpack(endian + "I", hdr[20:24])[0] == 1, "expected Ethernet frames"
dst.write(hdr[:16] + struct.pack(endian + "I", 262144) + hdr[20:])
while True:
    rec = src.read(16)
    if len(rec) < 16:
        break
    sec, frac, caplen, wirelen = struct.unpack(endian + "IIII", rec)
    frame = src.read(caplen)
    frame = frame[:12] + b"\x81\x00\x00\x2a" + frame[12:]  # 802.1Q, VLAN 42
    dst.write(struct.pack(endian + "IIII", sec, frac, caplen + 4, wirelen + 4) + frame)
PY
live vlan "$tmp/vlan.pcap" 2
check "vlan 42: every connection's bytes as sent" \
	python3 "$tmp/check.py" "$tmp/want.json" "$tmp/vlan.ndjson"

tap_done
