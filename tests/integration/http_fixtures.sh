#!/usr/bin/env bash
# HTTP/1.x parser on byte vectors recorded from a real nginx with curl and a pipelining
# client (tests/fixtures/http/record.sh): keep-alive, HEAD, 204, 304, 404, 100-continue,
# chunked requests and responses, pipelining, a close-delimited HTTP/1.0 response, a
# declined h2c upgrade, the HTTP/2 preface and a WebSocket 101. Each session replayed
# whole, cut at every byte of every chunk, and byte by byte: identical records, and the
# records say what the clients and the server really exchanged.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/fixtures.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fixtures=(tests/fixtures/http/*.bin)
fixtures_run 80 whole,splits,bytes "$tmp/out.ndjson" "${fixtures[@]}"
check "fixtures replayed" test $? -eq 0
cat >"$tmp/checks.py" <<'PY'
s = "curl_keepalive"
ok(len(sessions[s]) == 5, f"keep-alive: five requests on one connection ({len(sessions[s])})")
r = find(s, method="GET", path="/index.html")
ok(r and r["status_code"] == 200 and r["content_type"] == "text/html" and r["user_agent"] == "fixture-curl/1.0"
   and r["host"].startswith("127.0.0.1:") and r["bytes_resp"] > 53, "GET: status, type, agent, host, sizes")
ok(find(s, method="HEAD", path="/data.json", status_code=200, content_type="application/json") is not None,
   "HEAD: no body expected, next request still parsed")
ok(find(s, path="/missing", status_code=404, status="error") is not None, "404 is an error")
ok(find(s, path="/empty", status_code=204, status="ok") is not None, "204 without body")
r = find(s, path="/redirect", status_code=301)
ok(r and r.get("auth") == "bearer" and "s3cr3t" not in json.dumps(sessions[s]),
   "Authorization: scheme only, never the token")
s = "curl_post"
posts = [r for r in sessions[s] if r["method"] == "POST"]
ok(len(posts) == 2 and all(r["status_code"] == 200 for r in posts), "two POSTs, 100 Continue is not their answer")
ok(posts and posts[0]["bytes_req"] > 3000 and posts[0]["bytes_resp"] > 3000, "100-continue body counted both ways")
s = "pipelined"
ok([(r["method"], r["path"], r["status_code"]) for r in sessions[s]] ==
   [("GET", "/index.html", 200), ("HEAD", "/data.json", 200), ("GET", "/chunked?user=jane", 200),
    ("GET", "/index.html", 304)], "three pipelined requests then a 304, in order")
r = find("http10_close", path="/chunked")
ok(r and r["status"] == "ok" and r["bytes_resp"] > 100, "HTTP/1.0: response delimited by close")
r = find("h2c_declined", path="/index.html")
ok(r and r.get("upgrade") == "h2c" and r["status_code"] == 200, "h2c offered, declined with 200")
ok(find("h2_prior", method="PRI", upgrade="h2") is not None and len(sessions["h2_prior"]) == 1,
   "HTTP/2 preface marked, frames not parsed as HTTP/1")
r = find("ws_101", path="/chat")
ok(r and r["status_code"] == 101 and r.get("upgrade") == "websocket" and len(sessions["ws_101"]) == 1,
   "WebSocket 101: upgrade marked, frames skipped")
PY
fixtures_check "$tmp/out.ndjson" "$tmp/checks.py" "${fixtures[@]}"
check "records checked" test $? -eq 0
tap_done
