# Starts a private memcached for a test suite (sourced).
#   memcached_start PORT -> memcached on 127.0.0.1:PORT (TCP only, 64 MB), as root user
#   memcached_stop       -> stops it by pid
MEMCACHED_BIN=${MEMCACHED_BIN:-/usr/bin/memcached}

memcached_start() {
	MEMCACHED_PORT=$1
	"$MEMCACHED_BIN" -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64 -u root &
	MEMCACHED_PID=$!
	for _ in $(seq 50); do
		printf 'version\r\n' | timeout 1 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"version\r\n"); sys.exit(0 if s.recv(64).startswith(b"VERSION") else 1)' "$MEMCACHED_PORT" \
			2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

memcached_stop() {
	[ -n "${MEMCACHED_PID:-}" ] && kill "$MEMCACHED_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$MEMCACHED_PID" 2>/dev/null || break; sleep 0.1; done
}
