# Replays recorded fixtures through the whole daemon and checks them (sourced; needs tap.sh).
#   fixtures_run PORT MODES OUT FIXTURE...
#       fixture_to_wwr (MODES: whole,splits,bytes) then wirewatch --source replay: into OUT
#   fixtures_check OUT CHECKS.py FIXTURE...
#       groups the query records per session and variant: every split and byte-by-byte
#       variant must give exactly the records of the whole session; then runs CHECKS.py
#       with `sessions` (fixture base name -> records of the whole session), `find(session,
#       **fields)`, `count(session, **fields)` and `ok(cond, name)` defined.
fixtures_run() {
	local port=$1 modes=$2 out=$3
	shift 3
	build/release/tests/tools/fixture_to_wwr "$out.wwr" "$port" "$modes" "$@" &&
		"$WIREWATCH" --source "replay:$out.wwr" --redact none --workers 2 \
			--output "file:$out" 2>"$out.err"
}

fixtures_check() {
	local out=$1 checks=$2
	shift 2
	python3 - "$out" "$checks" "$@" <<'PY'
import json, sys, collections

out, checks, fixtures = sys.argv[1], sys.argv[2], sys.argv[3:]
by_conn = collections.defaultdict(list)
for line in open(out):
    r = json.loads(line)
    if r["type"] != "query":
        continue
    pid, fd, gen = r["conn"]["id"].split(":")
    key = {k: v for k, v in r.items() if k not in ("conn", "ts", "latency_us")}
    by_conn[(int(pid), int(fd))].append(key)

n = 0
def ok(cond, name):
    global n
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))

sessions = {}
for i, path in enumerate(fixtures):
    pid = 50000 + 4 + i   # fixture_to_wwr numbers fixtures by argv position
    conns = sorted(fd for (p, fd) in by_conn if p == pid)
    name = path.rsplit("/", 1)[1].rsplit(".", 1)[0]
    whole = by_conn.get((pid, 3), [])
    sessions[name] = whole
    ok(len(whole) > 0, f"{name}: whole session gives records ({len(whole)})")
    if len(conns) > 1:
        same = [fd for fd in conns if by_conn[(pid, fd)] == whole]
        ok(len(same) == len(conns),
           f"{name}: {len(same)}/{len(conns)} split and byte-by-byte variants give identical records")
        for fd in conns:
            if by_conn[(pid, fd)] != whole:
                print("# first differing variant fd", fd)
                print("# whole:  ", json.dumps(whole)[:800])
                print("# variant:", json.dumps(by_conn[(pid, fd)])[:800])
                break

def find(session, **want):
    for r in sessions.get(session, []):
        if all(r.get(k) == v for k, v in want.items()):
            return r
    return None

def count(session, **want):
    return sum(1 for r in sessions.get(session, []) if all(r.get(k) == v for k, v in want.items()))

exec(open(checks).read())
print("1..%d" % n)
PY
}
