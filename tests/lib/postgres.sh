# Starts a private PostgreSQL 15 server for a test suite (sourced).
#   pg_start PORT   -> PGDATA in a temp dir, listening on 127.0.0.1:PORT, users:
#                      "app" (password "app-secret", scram-sha-256), database "shop"
#   pg_stop         -> stops it by pid and removes the data directory
# The server runs as the postgres user (it refuses root); no systemd involved.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg_start() {
	PG_PORT=$1
	PG_DIR=$(mktemp -d /tmp/ww-pg.XXXXXX)
	chown postgres "$PG_DIR"
	runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres \
		--auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 || {
		cat "$PG_DIR/initdb.log" >&2
		return 1
	}
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
		-o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start \
		>/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
	PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
	runuser -u postgres -- psql -h "$PG_DIR" -p "$PG_PORT" -U postgres -q -v ON_ERROR_STOP=1 <<SQL >/dev/null
CREATE USER app PASSWORD 'app-secret';
CREATE DATABASE shop OWNER app;
SQL
}

pg_stop() {
	[ -n "${PG_PID:-}" ] && kill -INT "$PG_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
	rm -rf "$PG_DIR"
}

# psql as the app user over TCP (so that traffic is on loopback, not the unix socket)
app_psql() {
	PGPASSWORD=app-secret psql -h 127.0.0.1 -p "$PG_PORT" -U app -d shop -X -q "$@"
}
