# Starts a private redis-server for a test suite (sourced).
#   redis_start PORT  -> redis-server on 127.0.0.1:PORT, no persistence, data dir in a temp dir
#   redis_stop        -> stops it by pid and removes the directory
REDIS_BIN=${REDIS_BIN:-/usr/bin/redis-server}

redis_start() {
	REDIS_PORT=$1
	REDIS_DIR=$(mktemp -d /tmp/ww-redis.XXXXXX)
	"$REDIS_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --save "" \
		--appendonly no --daemonize no --logfile "$REDIS_DIR/redis.log" &
	REDIS_PID=$!
	for _ in $(seq 50); do
		redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.1
	done
	cat "$REDIS_DIR/redis.log" >&2
	return 1
}

redis_stop() {
	[ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
	rm -rf "$REDIS_DIR"
}
