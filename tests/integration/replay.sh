#!/usr/bin/env bash
# Record and replay: a synthetic run recorded with --record and replayed gives the same
# records (as multisets: shards interleave differently), replayed twice gives the same
# again, and a damaged recording is an error naming the offset after the records before
# the damage were written.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

records() { grep -v '"type":"stats"' "$1" | sort; }

"$WIREWATCH" --source synth:conns=50,count=20000,exchanges=5 --workers 2 \
	--record "$tmp/rec.wwr" --output "file:$tmp/live.ndjson" 2>"$tmp/live.err"
check "synth run with --record exits 0" test $? -eq 0
n=$(grep -c '"type":"conn"' "$tmp/live.ndjson")
check "synth run wrote conn records ($n)" test "$n" -gt 1000

"$WIREWATCH" --source "replay:$tmp/rec.wwr" --workers 2 --output "file:$tmp/r1.ndjson" 2>"$tmp/r1.err"
check "replay exits 0" test $? -eq 0
"$WIREWATCH" --source "replay:$tmp/rec.wwr" --workers 1 --output "file:$tmp/r2.ndjson" 2>"$tmp/r2.err"
check "replay identical to the live run" cmp -s <(records "$tmp/live.ndjson") <(records "$tmp/r1.ndjson")
check "second replay (other worker count) identical" cmp -s <(records "$tmp/r1.ndjson") <(records "$tmp/r2.ndjson")

# byte counts in close records add up to what the synth produced
python3 - "$tmp/r1.ndjson" <<'PY' && ok "close records balance open records" || not_ok "close records balance open records"
import json, sys
opens = closes = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] != "conn":
        continue
    if r["event"] == "open":
        opens += 1
    else:
        closes += 1
        assert r["bytes_req"] > 0 and r["bytes_resp"] > 0, r
sys.exit(0 if opens == closes and opens > 0 else 1)
PY

# damage: cut the file in the middle of its second frame
size=$(stat -c %s "$tmp/rec.wwr")
head -c $((size * 2 / 3)) "$tmp/rec.wwr" >"$tmp/cut.wwr"
"$WIREWATCH" --source "replay:$tmp/cut.wwr" --output "file:$tmp/cut.ndjson" 2>"$tmp/cut.err"
rc=$?
check "truncated recording exits 1" test $rc -eq 1
check "error names the offset" grep -qE 'replay:.*offset [0-9]+: truncated frame' "$tmp/cut.err"
m=$(grep -c '"type":"conn"' "$tmp/cut.ndjson")
check "records before the damage were written ($m)" test "$m" -gt 0

# corruption: flip a byte inside the first frame's compressed data
cp "$tmp/rec.wwr" "$tmp/bad.wwr"
printf '\xff' | dd of="$tmp/bad.wwr" bs=1 seek=100 conv=notrunc status=none
"$WIREWATCH" --source "replay:$tmp/bad.wwr" --output "file:$tmp/bad.ndjson" 2>"$tmp/bad.err"
check "corrupted frame exits 1" test $? -eq 1
check "corruption reported at offset 24" grep -q 'offset 24: frame checksum mismatch' "$tmp/bad.err"

echo "not a recording" >"$tmp/junk"
"$WIREWATCH" --source "replay:$tmp/junk" 2>"$tmp/junk.err"
check "a file that is not a recording exits 2" test $? -eq 2
check "and says so" grep -q 'not a wirewatch recording' "$tmp/junk.err"
tap_done
