# Starts a private nginx for a test suite (sourced).
#   nginx_start PORT  -> plain HTTP/1.1 on 127.0.0.1:PORT, HTTP/2 prior knowledge on PORT+1,
#                        TLS (self-signed, CN=wirewatch.test, h2 and http/1.1) on PORT+2;
#                        everything (config, logs, docroot, key) in a temp dir
#   nginx_stop        -> stops it by pid and removes the directory
# Locations: /index.html (static), /data.json (application/json), /chunked (echo module:
# chunked body), /echo (POST: the request body echoed back), /empty (204),
# /missing (404), /redirect (301), /customers.json (64 KiB of JSON with 300 distinct emails,
# gzip-compressed when the client accepts it). No systemd involved.
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}

nginx_start() {
	NGINX_PORT=$1
	NGINX_DIR=$(mktemp -d /tmp/ww-nginx.XXXXXX)
	mkdir -p "$NGINX_DIR/html" "$NGINX_DIR/logs"
	printf '<html><body>hello from wirewatch tests</body></html>\n' >"$NGINX_DIR/html/index.html"
	printf '{"name":"Jane Doe","email":"jane.doe@example.org"}\n' >"$NGINX_DIR/html/data.json"
	python3 -c 'import json, sys; json.dump([{"id": i, "email": "customer%d@shop%d.example.com" % (i, i % 13),
		"notes": "z" * 150} for i in range(300)], sys.stdout)' >"$NGINX_DIR/html/customers.json"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
		-subj "/C=US/O=Wirewatch Tests/CN=wirewatch.test" -keyout "$NGINX_DIR/key.pem" \
		-out "$NGINX_DIR/cert.pem" >/dev/null 2>&1 || return 1
	local echo_mod=/usr/lib/nginx/modules/ngx_http_echo_module.so load=""
	[ -f "$echo_mod" ] && load="load_module $echo_mod;"
	cat >"$NGINX_DIR/nginx.conf" <<EOF
$load
user root;
worker_processes 1;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/logs/error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	types { text/html html; application/json json; }
	default_type application/octet-stream;
	client_body_temp_path $NGINX_DIR/body;
	proxy_temp_path $NGINX_DIR/proxy;
	fastcgi_temp_path $NGINX_DIR/fastcgi;
	uwsgi_temp_path $NGINX_DIR/uwsgi;
	scgi_temp_path $NGINX_DIR/scgi;
	keepalive_requests 1000;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		listen 127.0.0.1:$((NGINX_PORT + 1)) http2;
		listen 127.0.0.1:$((NGINX_PORT + 2)) ssl http2;
		ssl_certificate $NGINX_DIR/cert.pem;
		ssl_certificate_key $NGINX_DIR/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		server_name wirewatch.test;
		root $NGINX_DIR/html;
		location = /chunked { default_type text/plain; echo "first line"; echo_flush; echo "second line"; }
		location = /echo { default_type text/plain; echo_read_request_body; echo_request_body; }
		location = /empty { return 204; }
		location = /redirect { return 301 /index.html; }
		location = /customers.json { gzip on; gzip_types application/json; }
	}
}
EOF
	"$NGINX_BIN" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/logs/error.log" ||
		{ cat "$NGINX_DIR/logs/error.log" >&2; return 1; }
	for _ in $(seq 50); do [ -s "$NGINX_DIR/nginx.pid" ] && break; sleep 0.1; done
	NGINX_PID=$(cat "$NGINX_DIR/nginx.pid")
}

nginx_stop() {
	[ -n "${NGINX_PID:-}" ] && kill -QUIT "$NGINX_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
	rm -rf "$NGINX_DIR"
}
