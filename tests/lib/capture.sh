# tcpdump helpers for the live suites (sourced after tap.sh).
#   capture_start FILE FILTER   -> tcpdump on lo in immediate mode, waits until it listens;
#                                  sets CAPTURE_PID
#   capture_settle FILE         -> waits until FILE has packets and has not grown for 1.5 s
#                                  (tcpdump drains the kernel buffer slower than loopback
#                                  fills it on a loaded machine), then stops tcpdump
capture_start() {
	tcpdump -i lo -s 0 -U --immediate-mode -B 32768 -w "$1" "$2" 2>"$1.err" &
	CAPTURE_PID=$!
	for _ in $(seq 50); do grep -q listening "$1.err" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

capture_settle() {
	local file=$1 last=-1 size stable=0
	for _ in $(seq 200); do
		size=$(stat -c %s "$file" 2>/dev/null || echo 0)
		if [ "$size" = "$last" ] && [ "$size" -gt 24 ]; then
			stable=$((stable + 1))
			[ $stable -ge 15 ] && break
		else
			stable=0
		fi
		last=$size
		sleep 0.1
	done
	kill "$CAPTURE_PID" 2>/dev/null
	wait "$CAPTURE_PID" 2>/dev/null
	CAPTURE_PID=
}
