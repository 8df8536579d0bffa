# Starts a private MariaDB 10.11 server for a test suite (sourced).
#   mdb_start PORT  -> data dir and socket in a temp dir, listening on 127.0.0.1:PORT only,
#                      user "app" (password "app-secret", mysql_native_password) owning
#                      database "shop"; root reachable through the private socket only
#   mdb_stop        -> stops it by pid (SIGTERM, then waits) and removes the directory
# The server runs as the mysql user; no systemd, no /etc/mysql, nothing shared.
MDB_BIN=${MDB_BIN:-/usr/sbin/mariadbd}

mdb_start() {
	MDB_PORT=$1
	MDB_DIR=$(mktemp -d /tmp/ww-mdb.XXXXXX)
	chown mysql: "$MDB_DIR"
	mariadb-install-db --no-defaults --user=mysql --datadir="$MDB_DIR/data" \
		--auth-root-authentication-method=socket --skip-test-db \
		>"$MDB_DIR/install.log" 2>&1 || { cat "$MDB_DIR/install.log" >&2; return 1; }
	"$MDB_BIN" --no-defaults --user=mysql --datadir="$MDB_DIR/data" \
		--socket="$MDB_DIR/mysqld.sock" --pid-file="$MDB_DIR/mysqld.pid" \
		--port="$MDB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
		--innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
		--max-allowed-packet=64M --log-error="$MDB_DIR/server.log" &
	MDB_PID=$!
	for _ in $(seq 100); do
		mdb_root -e "SELECT 1" >/dev/null 2>&1 && break
		kill -0 "$MDB_PID" 2>/dev/null || { cat "$MDB_DIR/server.log" >&2; return 1; }
		sleep 0.1
	done
	mdb_root <<'SQL' || { cat "$MDB_DIR/server.log" >&2; return 1; }
CREATE DATABASE shop;
CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-secret';
GRANT ALL ON shop.* TO 'app'@'127.0.0.1';
SQL
}

mdb_stop() {
	[ -n "${MDB_PID:-}" ] && kill -TERM "$MDB_PID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$MDB_PID" 2>/dev/null || break; sleep 0.1; done
	[ -n "${MDB_DIR:-}" ] && rm -rf "$MDB_DIR"
	MDB_PID=
}

# root through the private unix socket (administration, never captured)
mdb_root() {
	mariadb --no-defaults -S "$MDB_DIR/mysqld.sock" -u root "$@"
}

# the mariadb client as the app user over TCP (so that traffic is on loopback)
app_mariadb() {
	mariadb --no-defaults -h 127.0.0.1 -P "$MDB_PORT" -u app -papp-secret --protocol=tcp "$@"
}
