#!/usr/bin/env bash
# The command line: --help documents every flag, --version, --check-config, exit codes,
# bad values named, metrics served in Prometheus format, stats records, SIGTERM drains.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$WIREWATCH" --help >"$tmp/help"
check "--help exits 0" test $? -eq 0
for flag in --config --source --output --workers --record --duration --pid --port --metrics \
	--redact --check-config --help --version --filter --progress; do
	check "--help documents $flag" grep -q -- "$flag" "$tmp/help"
	check "README documents $flag" grep -q -- "$flag" README.md
done
check "--version prints the version" bash -c "'$WIREWATCH' --version | grep -qE '^wirewatch [0-9]+\.[0-9]+'"

"$WIREWATCH" --workers zero 2>"$tmp/e1"
check "bad --workers exits 2" test $? -eq 2
check "bad --workers is named" grep -q -- "--workers 'zero'" "$tmp/e1"
"$WIREWATCH" --no-such-flag 2>/dev/null
check "unknown flag exits 2" test $? -eq 2
"$WIREWATCH" --source nosuch 2>"$tmp/e2"
check "unknown source exits 2" test $? -eq 2
check "unknown source is named" grep -q "nosuch" "$tmp/e2"
"$WIREWATCH" --output ftp:x 2>"$tmp/e3"
check "bad --output exits 2" test $? -eq 2

"$WIREWATCH" --check-config config/wirewatch.yaml >/dev/null
check "--check-config accepts the default file" test $? -eq 0
printf 'runtime:\n  workers: 2\n  bogus_key: 1\n' >"$tmp/bad.yaml"
"$WIREWATCH" --check-config "$tmp/bad.yaml" 2>"$tmp/e4"
check "--check-config on a bad key exits 2" test $? -eq 2
check "the message names file:line:column" grep -q "$tmp/bad.yaml:3:[0-9]" "$tmp/e4"
"$WIREWATCH" --config "$tmp/bad.yaml" --source synth --duration 1 2>"$tmp/e5"
check "--config with a bad key exits 2" test $? -eq 2

# a tiny memory cap is a configuration error, not a crash
printf 'runtime:\n  memory_cap: 16MiB\n' >"$tmp/small.yaml"
"$WIREWATCH" --config "$tmp/small.yaml" --source synth --duration 1 2>"$tmp/e6"
check "memory cap too small exits 2" test $? -eq 2
check "and explains the sum" grep -q "exceeds runtime.memory_cap" "$tmp/e6"

# metrics and stats while running; SIGTERM drains and prints the summary
port=$((20000 + RANDOM % 20000))
printf 'metrics:\n  stats_interval_s: 1\n' >"$tmp/stats.yaml"
"$WIREWATCH" --config "$tmp/stats.yaml" --source synth:rate=20000 --workers 2 \
	--metrics "127.0.0.1:$port" --output "file:$tmp/out.ndjson" 2>"$tmp/run.err" &
pid=$!
sleep 2.5
curl -sf "http://127.0.0.1:$port/metrics" >"$tmp/metrics"
check "metrics endpoint answers" test $? -eq 0
check "metrics have HELP and TYPE" grep -q '^# TYPE wirewatch_reader_chunks_total counter' "$tmp/metrics"
check "per-worker labels" grep -q 'wirewatch_worker_chunks_total{worker="1"}' "$tmp/metrics"
chunks=$(awk '/^wirewatch_reader_chunks_total/ {print $2}' "$tmp/metrics")
check "chunks flowing ($chunks)" test "${chunks:-0}" -gt 1000
curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope" >"$tmp/code"
check "unknown path is 404" grep -q 404 "$tmp/code"
kill -TERM $pid
wait $pid
check "SIGTERM exits 0" test $? -eq 0
check "summary on stderr" grep -q "records written" "$tmp/run.err"
check "periodic stats records" test "$(grep -c '"type":"stats"' "$tmp/out.ndjson")" -ge 2
python3 -c "
import json,sys
for l in open('$tmp/out.ndjson'): json.loads(l)
" 2>"$tmp/json.err"
check "every output line is valid JSON" test $? -eq 0
# nothing lost: every chunk produced reached a worker
python3 - "$tmp/out.ndjson" <<'PY'
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if '"final":true' in l][-1]["counters"]
ok = last["reader_chunks_total"] == last["worker_chunks_total"] and last["reader_pool_empty_total"] == 0
sys.exit(0 if ok else 1)
PY
check "final stats: chunks read == chunks processed, no pool drops" test $? -eq 0
tap_done
