#!/usr/bin/env bash
# What the eBPF capture costs the traced application, and the event rate it keeps up with.
# Printed, never asserted.
#
#   1. Loopback TCP ping-pong (client + forked server on one CPU, 64 B and 4 KiB: across two
#      CPUs a round trip mostly measures an idle CPU's wakeup) and a one-process loop
#      (both ends of one connection, no wakeups): ns per syscall bare, then with
#      `wirewatch --source bpf --output file:/dev/null` attached, then bare again; the added
#      ns per syscall and the ratio against the mean of the two bare runs. Each figure is the
#      median of REPS runs.
#   2. Events through the pipeline: LOADERS processes of the one-process loop for SECONDS
#      with wirewatch attached; events/s captured (chunks the readers handed on) and every
#      drop (kernel ring full, source losses, pool or shard queue).
#
#   bench/bpf_bench.sh [ITERS] [REPS]      (needs root; make builds build/release/bench/*)
set -u
cd "$(dirname "$0")/.."
iters=${1:-20000}
reps=${2:-5}
seconds=${BPF_BENCH_SECONDS:-5}
bin=build/release/wirewatch
pp=build/release/bench/bpf_pingpong
tmp=$(mktemp -d)
ww=
trap '[ -n "$ww" ] && kill "$ww" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

echo "== eBPF capture: cost to the traced application"
if [ "$(id -u)" -ne 0 ] || [ ! -r /sys/kernel/btf/vmlinux ]; then
	echo "skipped: needs root and /sys/kernel/btf/vmlinux"
	exit 0
fi
for f in "$bin" "$pp"; do
	[ -x "$f" ] || { echo "skipped: $f not built (make VARIANT=release all build/release/bench/bpf_pingpong)"; exit 0; }
done

# median MODE SIZE: median ns_per_syscall of $reps runs
median() {
	local mode=$1 size=$2 n=$iters
	[ "$mode" = self ] && n=$((iters * 10))
	for _ in $(seq "$reps"); do
		"$pp" "$mode" "$size" "$n" | sed -E 's/.*ns_per_syscall=([0-9.]+).*/\1/'
	done | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# start_ww ARGS...: wirewatch in the background; returns once it runs: programs attached and
# the main thread waiting for signals (a stop sent earlier would be lost: a background job
# of a script ignores SIGINT until wirewatch blocks it)
start_ww() {
	"$bin" --source bpf --output file:/dev/null "$@" >"$tmp/ww.out" 2>"$tmp/ww.err" &
	ww=$!
	for _ in $(seq 300); do
		grep -q sigtimedwait "/proc/$ww/wchan" 2>/dev/null && sleep 0.2 && return 0
		kill -0 "$ww" 2>/dev/null || break
		sleep 0.1
	done
	echo "wirewatch did not start:"
	sed 's/^/  /' "$tmp/ww.err" | head -10
	exit 0
}

stop_ww() {
	kill -INT "$ww" 2>/dev/null
	wait "$ww" 2>/dev/null
	ww=
}

cases=${BPF_BENCH_CASES-"pingpong:64 pingpong:4096 self:64 self:4096"}
declare -A bare1 traced bare2
for c in $cases; do bare1[$c]=$(median "${c%%:*}" "${c##*:}"); done
start_ww
for c in $cases; do traced[$c]=$(median "${c%%:*}" "${c##*:}"); done
stop_ww
for c in $cases; do bare2[$c]=$(median "${c%%:*}" "${c##*:}"); done

echo "cpu:    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')  cores: $(nproc)  kernel: $(uname -r)"
echo "median of $reps runs; pingpong $iters round trips on CPU ${PP_CPU:-0} (4 syscalls each, on the critical path),"
echo "self $((iters * 10)) iterations (write+read each way, no wakeups)"
printf '%-14s %12s %12s %12s %12s %8s\n' case "bare ns/sc" "traced ns/sc" "bare again" "added ns/sc" ratio
for c in $cases; do
	awk -v c="$c" -v a="${bare1[$c]}" -v t="${traced[$c]}" -v b="${bare2[$c]}" 'BEGIN {
		m = (a + b) / 2
		printf "%-14s %12.1f %12.1f %12.1f %12.1f %7.2fx\n", c, a, t, b, t - m, t / m }'
done
sed -n 's/^/wirewatch: /p' "$tmp/ww.err" | grep -E "chunks captured|lost" | head -4

echo
echo "== eBPF capture: events through the pipeline (64 B write/read loop, ${seconds}s)"
# summary FILE KEY: a number from wirewatch's exit summary
summary() { awk -v k="$2" 'index($0, k) { print $NF; exit }' "$1"; }
for loaders in 1 2; do
	start_ww
	pids=
	for i in $(seq "$loaders"); do
		"$pp" load 64 "$seconds" >"$tmp/load.$i" &
		pids="$pids $!"
	done
	wait $pids
	sleep 1 # what is still in the rings reaches the readers before the stop
	stop_ww
	made=$(cat "$tmp"/load.* | sed -E 's/.*syscalls=([0-9]+).*/\1/' | paste -sd+ | bc)
	chunks=$(summary "$tmp/ww.err" "chunks captured")
	src=$(summary "$tmp/ww.err" "lost in the source")
	pool=$(summary "$tmp/ww.err" "lost: chunk pool empty")
	queue=$(summary "$tmp/ww.err" "lost: shard queue full")
	awk -v l="$loaders" -v s="$seconds" -v m="$made" -v c="${chunks:-0}" -v d="${src:-?}" \
		-v p="${pool:-?}" -v q="${queue:-?}" 'BEGIN {
		printf "loaders=%d: %.0f syscalls/s made, %.0f events/s captured (%d of %d), " \
		       "drops: source %s, pool %s, shard queue %s\n", l, m / s, c / s, c, m, d, p, q }'
	[ -n "${BPF_BENCH_VERBOSE:-}" ] && sed 's/^/  # /' "$tmp/ww.err" "$tmp"/load.*
	rm -f "$tmp"/load.*
done
