#!/usr/bin/env bash
# Prints throughput figures of the synthetic pipeline against a memcpy baseline measured
# in the same run. Figures are printed, never asserted.
#   bench/run.sh [CHUNKS]
set -eu
cd "$(dirname "$0")/.."
chunks=${1:-4000000}
bin=build/release/wirewatch
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== environment"
echo "cpu:    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "cores:  $(nproc)"
echo "kernel: $(uname -r)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo

base=$(build/release/bench/memcpy_baseline "$chunks")
echo "$base"
base_ns=$(sed -E 's/.*ns_per_chunk=([0-9.]+).*/\1/' <<<"$base")

printf 'parsers:\n  pii_rules: ""\n' >"$tmp/no-pii.yaml"

# run WORKERS READERS [CONFIG]: whole pipeline (detect, parse, PII, records to a file)
run() {
	local workers=$1 readers=$2 config=${3:-} per_reader=$((chunks / $2)) start end secs stats
	start=$(date +%s.%N)
	"$bin" ${config:+--config "$config"} --source "synth:conns=256,count=$per_reader,readers=$readers" \
		--workers "$workers" --output "file:$tmp/out.ndjson" 2>"$tmp/err"
	end=$(date +%s.%N)
	secs=$(echo "$end - $start" | bc -l)
	records=$(wc -l <"$tmp/out.ndjson")
	rm -f "$tmp/out.ndjson"
	python3 - "$workers" "$readers" "$chunks" "$records" "$secs" "$base_ns" "${config:+ (PII off)}" <<'PY'
import sys
w, r, chunks, records, secs, base = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
ns = secs * 1e9 / chunks
print(f"pipeline workers={w} readers={r}{sys.argv[7]}: {chunks/secs:,.0f} chunks/s, {ns:.1f} ns/chunk "
      f"({ns/base:.1f}x the memcpy baseline), {records/secs:,.0f} records/s written")
PY
}

echo
echo "== synthetic pipeline (synth -> shards -> conn records -> file), $chunks chunks"
run 1 1
run 2 1
run 2 2
run 1 1 "$tmp/no-pii.yaml"
run 2 1 "$tmp/no-pii.yaml"

echo
echo "== parsers on traffic recorded from real servers (one core; records encoded and written)"
build/release/bench/parse_bench 5432 3 tests/fixtures/postgres/large/*.bin tests/fixtures/postgres/*.bin
build/release/bench/parse_bench 3306 3 tests/fixtures/mysql/*.bin
build/release/bench/parse_bench 80 3 tests/fixtures/http/*.bin
build/release/bench/parse_bench 6379 3 tests/fixtures/redis/*.bin
build/release/bench/parse_bench 11211 3 tests/fixtures/memcached/*.bin
build/release/bench/parse_bench 443 3 tests/fixtures/tls/*.bin

echo
echo "== PII engine (one core): free text and short fields, against memchr"
build/release/bench/pii_bench 16

echo
./bench/pcap_bench.sh "${PCAP_BENCH_MB:-300}"
echo; bench/bpf_bench.sh
