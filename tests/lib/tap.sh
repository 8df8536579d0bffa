# Small TAP helpers for the integration scripts (sourced).
tap_n=0
tap_failed=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=$((tap_failed + 1)); echo "not ok $tap_n - $*"; }
# check NAME COMMAND...: ok when the command succeeds.
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
tap_done() { echo "1..$tap_n"; [ "$tap_failed" -eq 0 ]; }
WIREWATCH=${WIREWATCH:-build/release/wirewatch}

# capture_stop PID FILE: stops tcpdump once FILE stopped growing (tcpdump drains the
# kernel's buffer slower than loopback fills it; killing it early loses the tail).
capture_stop() {
	local pid=$1 file=$2 last=-1 size stable=0
	for _ in $(seq 100); do
		size=$(stat -c %s "$file" 2>/dev/null || echo 0)
		if [ "$size" = "$last" ]; then
			stable=$((stable + 1))
			[ $stable -ge 5 ] && break
		else
			stable=0
		fi
		last=$size
		sleep 0.3
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}
