#!/usr/bin/env bash
# The pcap source on captures of real traffic: tcpdump records loopback while a Python
# client talks to a Python server (TCP over IPv4 and IPv6, many small segments and a
# bulk transfer, and UDP), then wirewatch --source pcap:FILE must report per connection
# exactly the bytes each side sent. The same capture reordered, duplicated, cut to a
# short snaplen and written as pcapng gives the same counts; with one data segment
# dropped it gives the same counts and an exact lost_req/lost_resp. Captured on "any"
# (Linux cooked SLL2) it gives the same again. Damaged files never crash it.
#
# Needs root (tcpdump on lo), tcpdump, python3, build/release/tests/tools/pcap_mangle; editcap (wireshark-common) for pcapng.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "${KEEP_TMP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

skip_all() {
	echo "ok 1 - pcap loopback tests # SKIP $*"
	echo "1..1"
	exit 0
}
command -v tcpdump >/dev/null || skip_all "tcpdump not installed (tools/deps.sh)"
[ "$(id -u)" -eq 0 ] || skip_all "needs root for tcpdump on lo"
echo "" >"$tmp/empty"
"$WIREWATCH" --source "pcap:$tmp/empty" 2>"$tmp/probe.err"
grep -q "unknown source" "$tmp/probe.err" && skip_all "pcap source not registered in runtime/sources.c"

cp build/release/tests/tools/pcap_mangle "$tmp/pcap_mangle" ||
	{ not_ok "tests/tools/pcap_mangle is built (make unit)"; tap_done; exit 1; }

port=$((20000 + RANDOM % 20000))
uport=$((port + 1))

# ---- traffic: tests/lib/loopback_traffic.py (servers and clients in one process) writes what it did

cat >"$tmp/check.py" <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))
lost = {}
ignore_lost = len(sys.argv) > 3 and sys.argv[3] == "truncated"
if len(sys.argv) > 3 and not ignore_lost:  # "LEN SPORT DPORT" of a dropped segment
    n, sp, dp = map(int, sys.argv[3].split())
    lost = {"len": n, "sport": sp, "dport": dp}
last = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r.get("type") != "conn":
        continue
    port = int(r["conn"]["src"].rsplit(":", 1)[1])
    last[port] = r
bad = []
for w in want:
    r = last.get(w["client_port"])
    if r is None:
        bad.append("no conn record for client port %d" % w["client_port"])
        continue
    exp_lost = [0, 0]
    if lost and lost["sport"] == w["client_port"]:
        exp_lost[0] = lost["len"]
    if lost and lost["dport"] == w["client_port"]:
        exp_lost[1] = lost["len"]
    got = (r["bytes_req"], r["bytes_resp"], r.get("lost_req", 0), r.get("lost_resp", 0))
    exp = (w["req"], w["resp"], exp_lost[0], exp_lost[1])
    if ignore_lost:  # bytes the snaplen cut are counted as lost: some, never more than sent
        ok = got[:2] == exp[:2] and 0 < got[2] < w["req"] and 0 < got[3] < w["resp"]
        exp = got if ok else exp
    if got != exp:
        bad.append("port %d: got %s want %s (%s)" % (w["client_port"], got, exp, r["event"]))
    if w["proto"] == "udp" and r["conn"].get("transport") != "udp":
        bad.append("port %d: transport not udp" % w["client_port"])
    if r["conn"]["pid"] is not None or r["conn"]["comm"] is not None:
        bad.append("port %d: pid/comm should be null" % w["client_port"])
for b in bad:
    print("# " + b)
sys.exit(1 if bad else 0)
PY

# ---- capture: on lo (Ethernet link type) and on any (Linux cooked SLL2) at once. A
# capture the kernel dropped packets from would rightly show gaps: retry until clean.
capture() {
	local td1 td2
	rm -f "$tmp/lo.pcap" "$tmp/any.pcap" "$tmp/want.json"
	tcpdump -i lo -B 65536 -U -w "$tmp/lo.pcap" "port $port or port $uport" 2>"$tmp/td1.err" &
	td1=$!
	tcpdump -i any -B 65536 -U -w "$tmp/any.pcap" "port $port or port $uport" 2>"$tmp/td2.err" &
	td2=$!
	pids+=("$td1" "$td2")
	for _ in $(seq 50); do
		grep -q listening "$tmp/td1.err" && grep -q listening "$tmp/td2.err" && break
		sleep 0.1
	done
	timeout 60 python3 tests/lib/loopback_traffic.py "$port" "$uport" "$tmp/want.json"
	sleep 1
	kill -INT "$td1" "$td2"
	wait "$td1" "$td2" 2>/dev/null
	grep -q "^0 packets dropped by kernel" "$tmp/td1.err" &&
		grep -q "^0 packets dropped by kernel" "$tmp/td2.err"
}
for attempt in 1 2 3 4; do
	capture && break
	echo "# attempt $attempt: tcpdump lost packets, capturing again"
	port=$((port + 2))
	uport=$((port + 1))
done
check "traffic ran" test -s "$tmp/want.json"
check "tcpdump captured every packet" grep -q "^0 packets dropped by kernel" "$tmp/td1.err"

# run NAME FILE [DROPPED]: wirewatch over FILE, then the per-connection byte check
run() {
	local name=$1 file=$2 dropped=${3:-}
	rm -f "$tmp/$name.ndjson"
	"$WIREWATCH" --source "pcap:$file" --workers 2 --output "file:$tmp/$name.ndjson" \
		2>"$tmp/$name.err"
	check "$name: exits 0" test $? -eq 0
	if [ -n "$dropped" ]; then
		python3 "$tmp/check.py" "$tmp/want.json" "$tmp/$name.ndjson" "$dropped"
	else
		python3 "$tmp/check.py" "$tmp/want.json" "$tmp/$name.ndjson"
	fi
	check "$name: every connection's bytes_req/bytes_resp as sent" test $? -eq 0
}

run lo "$tmp/lo.pcap"
n=$(grep -c '"event":"close","reason":"closed"' "$tmp/lo.ndjson")
check "lo: FIN on both sides closes the TCP connections ($n)" test "$n" -eq 4
check "lo: src is the client, dst the server port" \
	grep -q "\"dst\":\"127.0.0.1:$port\"" "$tmp/lo.ndjson"
check "lo: IPv6 endpoints" grep -q "\"dst\":\"\[::1\]:$port\"" "$tmp/lo.ndjson"
run any "$tmp/any.pcap"

out=$("$tmp/pcap_mangle" reorder "$tmp/lo.pcap" "$tmp/reorder.pcap")
check "reorder: segments swapped ($out)" test "${out#swapped }" -gt 10
run reordered "$tmp/reorder.pcap"
"$tmp/pcap_mangle" duplicate "$tmp/lo.pcap" "$tmp/dup.pcap"
run duplicated "$tmp/dup.pcap"
"$tmp/pcap_mangle" snap "$tmp/lo.pcap" "$tmp/snap.pcap" 120
run snaplen-120 "$tmp/snap.pcap" truncated
if command -v editcap >/dev/null; then
	editcap -F pcapng "$tmp/lo.pcap" "$tmp/lo.pcapng"
	run pcapng "$tmp/lo.pcapng"
fi

# drop a segment of the bulk request (client to server) and one near the end of the
# capture, counted from the end: how many segments a run makes varies with load
for k in 20 -20; do
	dropped=$("$tmp/pcap_mangle" drop "$tmp/lo.pcap" "$tmp/drop$k.pcap" "$k")
	check "drop $k: a data segment dropped (${dropped#dropped })" test -n "$dropped"
	run "dropped-$k" "$tmp/drop$k.pcap" "${dropped#dropped }"
done

# ---- damaged input: counted, skipped, never a crash
size=$(stat -c %s "$tmp/lo.pcap")
head -c $((size / 2 + 7)) "$tmp/lo.pcap" >"$tmp/cut.pcap"
"$WIREWATCH" --source "pcap:$tmp/cut.pcap" --output "file:$tmp/cut.ndjson" 2>"$tmp/cut.err"
check "truncated file exits 0" test $? -eq 0
check "truncated file is reported" grep -q "truncated capture after" "$tmp/cut.err"
check "records before the cut were written" grep -q '"type":"conn"' "$tmp/cut.ndjson"
for seed in 1 2 3 4 5; do
	"$tmp/pcap_mangle" corrupt "$tmp/lo.pcap" "$tmp/bad$seed.pcap" "$seed"
	"$WIREWATCH" --source "pcap:$tmp/bad$seed.pcap" --output "file:$tmp/bad.ndjson" \
		2>"$tmp/bad.err"
	check "corrupted headers (seed $seed) exit 0" test $? -eq 0
done

echo "this is not a capture" >"$tmp/junk"
"$WIREWATCH" --source "pcap:$tmp/junk" 2>"$tmp/junk.err"
check "a file that is not a capture exits 2" test $? -eq 2
check "... and says so" grep -q "pcap:$tmp/junk: not a pcap or pcapng file" "$tmp/junk.err"
"$WIREWATCH" --source "pcap:$tmp/nonexistent" 2>"$tmp/none.err"
check "a missing file exits 2" test $? -eq 2

tap_done
