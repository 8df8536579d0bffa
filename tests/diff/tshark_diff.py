#!/usr/bin/env python3
"""Differential harness: what wirewatch and tshark extract from the same capture.

Runs CAPTURE through wirewatch (--source pcap:CAPTURE --redact none, records to a
temporary file) and through tshark (-T fields), turns both into rows of strings and
compares them as multisets (or in order, or one within the other). Exit 0 when they agree,
1 when they differ, 2 on bad usage or when a tool fails. Every line it prints starts with
"# ", so a TAP test can call it through check() and stay valid TAP.

    tests/diff/tshark_diff.py [OPTIONS] CAPTURE

wirewatch side (one row per record):
  --type TYPE          records of this "type" only (default: query)
  --proto NAME         records of this "proto" only (e.g. postgres, http, redis)
  --where PATH=VALUE   records whose field PATH equals VALUE (repeatable)
  --fields PATHS       comma-separated record fields, dotted for nested ones
                       (e.g. "query,command", "method,path", "conn.dst", "error.code");
                       a missing field or null is "", a list is joined with ","
  --ndjson FILE        compare this output of an earlier run instead of running wirewatch
                       (e.g. the records of a live capture of the same traffic)
  --wirewatch BIN      the binary (default: $WIREWATCH or build/release/wirewatch)
  --ww-arg ARG         one more argument for wirewatch (repeatable), e.g. --ww-arg=--config
                       --ww-arg=FILE

tshark side (one row per occurrence: a packet carrying three queries gives three rows):
  --tshark-fields F    comma-separated tshark fields, as many as --fields, in the same order
                       (e.g. "pgsql.query", "http.request.method,http.request.uri")
  -Y, --filter EXPR    display filter (default: the first tshark field, so packets without
                       it give no row)
  -d, --decode-as X    tshark -d, e.g. "tcp.port==5433,pgsql" (repeatable)
  --tshark-arg ARG     one more argument for tshark (repeatable), e.g. -o PREF:VALUE

comparison:
  --mode MODE          equal (default): the same rows, each as often;
                       subset: every tshark row is in wirewatch's (tshark decodes less);
                       superset: every wirewatch row is in tshark's;
                       ordered: the same rows in the same order (wirewatch's records
                       sorted by their "ts", tshark's in packet order)
  --strip              strip surrounding whitespace from every value on both sides
  --min-rows N         fail when tshark gives fewer than N rows (default 1: an empty
                       comparison proves nothing)
  --show N             differing rows printed per side (default 10)
  --keep DIR           keep the NDJSON and tshark output in DIR

Examples:
  tests/diff/tshark_diff.py --proto postgres --fields query --tshark-fields pgsql.query \\
      -d tcp.port==5433,pgsql pg.pcap
  tests/diff/tshark_diff.py --proto http --fields method,path \\
      --tshark-fields http.request.method,http.request.uri -d tcp.port==8080,http http.pcap
  tests/diff/tshark_diff.py --proto http --fields status_code \\
      --tshark-fields http.response.code -d tcp.port==8080,http http.pcap
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile

AGGREGATOR = "\x1f"  # between occurrences of one field in one packet: never in a value
SEPARATOR = "\x1e"


def say(msg):
    for line in str(msg).splitlines() or [""]:
        print("# " + line)


def fail(msg, code=2):
    say("tshark_diff: " + msg)
    sys.exit(code)


def field(rec, path):
    v = rec
    for part in path.split("."):
        if not isinstance(v, dict) or part not in v:
            return ""
        v = v[part]
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(x if isinstance(x, str) else json.dumps(x) for x in v)
    if isinstance(v, (dict,)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def wirewatch_rows(args, ndjson):
    rows = []
    wheres = [w.split("=", 1) for w in args.where]
    with open(ndjson, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
            except ValueError:
                fail("%s:%d: not JSON" % (ndjson, n))
            if args.type and rec.get("type") != args.type:
                continue
            if args.proto and rec.get("proto") != args.proto:
                continue
            if any(field(rec, k) != v for k, v in wheres):
                continue
            rows.append((rec.get("ts", ""), tuple(field(rec, p) for p in args.fields)))
    # workers write records as they finish: put them back in capture order (RFC 3339
    # timestamps of one width sort as strings; sorted() is stable for equal ones)
    rows.sort(key=lambda r: r[0])
    return [r[1] for r in rows]


def tshark_rows(args, capture, keep):
    cmd = ["tshark", "-n", "-r", capture, "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=" + AGGREGATOR, "-E", "separator=" + SEPARATOR,
           "-Y", args.filter or args.tshark_fields[0]]
    for d in args.decode_as:
        cmd += ["-d", d]
    cmd += args.tshark_arg
    for f in args.tshark_fields:
        cmd += ["-e", f]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        fail("tshark failed (%d): %s" % (p.returncode, p.stderr.decode(errors="replace")[:500]))
    out = p.stdout.decode("utf-8", errors="replace")
    if keep:
        with open(os.path.join(keep, "tshark.txt"), "w") as f:
            f.write(out)
    rows = []
    for line in out.split("\n"):
        if not line:
            continue
        cols = [c.split(AGGREGATOR) for c in line.split(SEPARATOR)]
        cols += [[""]] * (len(args.tshark_fields) - len(cols))
        # occurrences line up by index: the i-th query of a packet with its i-th tag
        for i in range(max(len(c) for c in cols)):
            rows.append(tuple(c[i] if i < len(c) else "" for c in cols))
    return rows


def unescape_tshark(v):
    # tshark -T fields escapes control characters in strings the C way
    if "\\" not in v:
        return v
    out, i = [], 0
    table = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"'}
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v) and v[i + 1] in table:
            out.append(table[v[i + 1]])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def main():
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        sys.exit(0)
    ap = argparse.ArgumentParser(add_help=False,
                                 usage="%(prog)s [OPTIONS] CAPTURE (--help for the options)")
    ap.add_argument("capture")
    ap.add_argument("--type", default="query")
    ap.add_argument("--proto")
    ap.add_argument("--where", action="append", default=[])
    ap.add_argument("--fields", required=True)
    ap.add_argument("--ndjson")
    ap.add_argument("--wirewatch", default=os.environ.get("WIREWATCH", "build/release/wirewatch"))
    ap.add_argument("--ww-arg", action="append", default=[])
    ap.add_argument("--tshark-fields", required=True)
    ap.add_argument("-Y", "--filter")
    ap.add_argument("-d", "--decode-as", action="append", default=[])
    ap.add_argument("--tshark-arg", action="append", default=[])
    ap.add_argument("--mode", default="equal", choices=["equal", "subset", "superset", "ordered"])
    ap.add_argument("--strip", action="store_true")
    ap.add_argument("--min-rows", type=int, default=1)
    ap.add_argument("--show", type=int, default=10)
    ap.add_argument("--keep")
    args = ap.parse_args()
    args.fields = [f for f in args.fields.split(",") if f]
    args.tshark_fields = [f for f in args.tshark_fields.split(",") if f]
    if len(args.fields) != len(args.tshark_fields):
        fail("--fields has %d names, --tshark-fields %d: they pair up in order"
             % (len(args.fields), len(args.tshark_fields)))
    if any("=" not in w for w in args.where):
        fail("--where expects PATH=VALUE")
    if not os.path.isfile(args.capture):
        fail("%s: no such capture" % args.capture)
    if not shutil.which("tshark"):
        fail("tshark not installed (tools/deps.sh)")

    work = args.keep or tempfile.mkdtemp(prefix="tshark_diff.")
    os.makedirs(work, exist_ok=True)
    try:
        ndjson = args.ndjson
        if not ndjson:
            ndjson = os.path.join(work, "wirewatch.ndjson")
            if os.path.exists(ndjson):
                os.unlink(ndjson)
            cmd = [args.wirewatch, "--source", "pcap:" + args.capture, "--redact", "none",
                   "--output", "file:" + ndjson] + args.ww_arg
            p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if p.returncode != 0:
                fail("wirewatch failed (%d): %s" % (p.returncode,
                                                     p.stderr.decode(errors="replace")[-500:]))
            if not os.path.exists(ndjson):
                open(ndjson, "w").close()
        ww = wirewatch_rows(args, ndjson)
        ts = [tuple(unescape_tshark(v) for v in r) for r in tshark_rows(args, args.capture,
                                                                       args.keep)]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.strip:
        ww = [tuple(v.strip() for v in r) for r in ww]
        ts = [tuple(v.strip() for v in r) for r in ts]

    cw, ct = collections.Counter(ww), collections.Counter(ts)
    only_ww, only_ts = cw - ct, ct - cw
    if args.mode == "equal":
        same = not only_ww and not only_ts
    elif args.mode == "subset":
        same = not only_ts
    elif args.mode == "superset":
        same = not only_ww
    else:
        same = ww == ts
    if len(ts) < args.min_rows:
        same = False
        say("tshark gave %d rows, fewer than --min-rows %d" % (len(ts), args.min_rows))
    say("tshark_diff %s: %s vs %s: wirewatch %d rows, tshark %d rows, %d in common (%s)"
        % (os.path.basename(args.capture), ",".join(args.fields), ",".join(args.tshark_fields),
           len(ww), len(ts), sum((cw & ct).values()), "agree" if same else "DIFFER"))
    if not same:
        for name, only in (("only in wirewatch", only_ww), ("only in tshark", only_ts)):
            for row, n in list(only.items())[:args.show]:
                say("  %s (x%d): %s" % (name, n, json.dumps(list(row))[:300]))
        if args.mode == "ordered" and not only_ww and not only_ts and ww != ts:
            first = next(i for i, (a, b) in enumerate(zip(ww, ts)) if a != b)
            say("  first difference in order at row %d: wirewatch %s, tshark %s"
                % (first, json.dumps(list(ww[first]))[:200], json.dumps(list(ts[first]))[:200]))
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
