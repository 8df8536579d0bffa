#!/usr/bin/env python3
"""Measures the PII engine on the labelled corpus: per-type precision, recall and F1, and
false positives per MB of PII-free traffic.

    tests/pii/evaluate.py [--corpus DIR] [--scanner CMD] [--config FILE] [--json OUT] [--errors N]

The scanner is `build/release/wirewatch pii-scan`. Corpus
lines are piped in as they are: pii-scan ignores the "labels" member.

A finding counts as a true positive when it has the type of a label and their spans overlap
by at least half of their union (Jaccard >= 0.5); each label is matched at most once.
Standard library only.
"""
import argparse
import collections
import gzip
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TYPES = ["email", "credit_card", "iban", "us_ssn", "phone", "ip_address", "jwt",
         "aws_access_key", "aws_secret_key", "github_token", "slack_token", "private_key",
         "password", "date_of_birth", "person_name", "address"]


def default_scanner():
    return [os.path.join(ROOT, "build/release/wirewatch"), "pii-scan"]


def load(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    return data, [json.loads(l) for l in data.splitlines() if l.strip()]


def scan(cmd, data):
    p = subprocess.run(cmd, input=data, capture_output=True, cwd=ROOT)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode(errors="replace"))
        raise SystemExit(f"evaluate: {' '.join(cmd)} exited {p.returncode}")
    found = collections.defaultdict(list)
    for line in p.stdout.splitlines():
        f = json.loads(line)
        found[f["id"]].append(f)
    return found


def jaccard(a, b):
    inter = min(a["end"], b["end"]) - max(a["start"], b["start"])
    if inter <= 0:
        return 0.0
    return inter / (max(a["end"], b["end"]) - min(a["start"], b["start"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.path.join(HERE, "corpus"),
                    help="directory with labelled.jsonl.gz and clean.jsonl.gz (default: tests/pii/corpus)")
    ap.add_argument("--scanner", help="command to run (default: see above)")
    ap.add_argument("--config", default=os.path.join(ROOT, "config/pii.yaml"))
    ap.add_argument("--json", help="also write the figures as JSON to this file")
    ap.add_argument("--errors", type=int, default=0, help="print N misses and false alarms per type")
    args = ap.parse_args()
    cmd = args.scanner.split() if args.scanner else default_scanner()
    cmd = cmd + ["--config", args.config]

    data, recs = load(os.path.join(args.corpus, "labelled.jsonl.gz"))
    found = scan(cmd, data)
    tp, fp, fn = collections.Counter(), collections.Counter(), collections.Counter()
    exact = collections.Counter()
    examples = collections.defaultdict(list)
    for r in recs:
        labels = list(r["labels"])
        used = [False] * len(labels)
        text = r["text"].encode()
        for f in found.get(r["id"], []):
            best, best_j = -1, 0.5
            for i, l in enumerate(labels):
                if not used[i] and l["type"] == f["type"]:
                    j = jaccard(f, l)
                    if j >= best_j:
                        best, best_j = i, j
            if best >= 0:
                used[best] = True
                tp[f["type"]] += 1
                exact[f["type"]] += best_j == 1.0
            else:
                fp[f["type"]] += 1
                examples[("fp", f["type"])].append(
                    (r["id"], r["context"], text[f["start"]:f["end"]].decode(errors="replace"),
                     r["text"][:160]))
        for i, l in enumerate(labels):
            if not used[i]:
                fn[l["type"]] += 1
                examples[("fn", l["type"])].append(
                    (r["id"], r["context"], text[l["start"]:l["end"]].decode(errors="replace"),
                     r["text"][:160]))

    clean, crecs = load(os.path.join(args.corpus, "clean.jsonl.gz"))
    cfound = scan(cmd, clean)
    cfp = collections.Counter()
    ctext_bytes = sum(len(r["text"].encode()) for r in crecs)
    for fs in cfound.values():
        for f in fs:
            cfp[f["type"]] += 1
    mb = ctext_bytes / 1e6

    out = {"types": {}, "clean_mb": round(mb, 3), "fp_per_mb": round(sum(cfp.values()) / mb, 3)}
    print(f"{'type':16} {'prec':>6} {'recall':>6} {'f1':>6} {'tp':>5} {'fp':>4} {'fn':>4} {'exact':>6} {'cleanFP':>7}")
    for t in TYPES:
        p = tp[t] / (tp[t] + fp[t]) if tp[t] + fp[t] else 1.0
        rc = tp[t] / (tp[t] + fn[t]) if tp[t] + fn[t] else 1.0
        f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
        ex = exact[t] / tp[t] if tp[t] else 0.0
        out["types"][t] = {"precision": round(p, 4), "recall": round(rc, 4), "f1": round(f1, 4),
                           "tp": tp[t], "fp": fp[t], "fn": fn[t], "clean_fp": cfp[t]}
        print(f"{t:16} {p:6.3f} {rc:6.3f} {f1:6.3f} {tp[t]:5d} {fp[t]:4d} {fn[t]:4d} {ex:6.3f} {cfp[t]:7d}")
    T, F, N = sum(tp.values()), sum(fp.values()), sum(fn.values())
    mp, mr = T / (T + F), T / (T + N)
    out["micro"] = {"precision": round(mp, 4), "recall": round(mr, 4)}
    print(f"{'all (micro)':16} {mp:6.3f} {mr:6.3f} {2 * mp * mr / (mp + mr):6.3f} {T:5d} {F:4d} {N:4d}")
    print(f"labelled: {len(recs)} lines; clean: {len(crecs)} lines, {mb:.2f} MB of text, "
          f"{sum(cfp.values())} false positives = {out['fp_per_mb']:.2f} per MB")
    if args.errors:
        for (kind, t), ex in sorted(examples.items()):
            print(f"--- {kind} {t} ({len(ex)})")
            for e in ex[:args.errors]:
                print("   ", json.dumps(e)[:300])
        for r in crecs:
            for f in cfound.get(r["id"], [])[:1]:
                if args.errors > 0:
                    print("--- clean fp", f["type"], json.dumps(r["text"].encode()[f["start"]:f["end"]].decode(errors="replace")), json.dumps(r["context"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
