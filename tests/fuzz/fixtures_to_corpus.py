#!/usr/bin/env python3
"""Turns fixtures (tests/tools/tcp_recorder.py format) into seed inputs of the parser fuzz
targets (tests/lib/engine_harness.h format: u8 control (bit 0 = response), u16 LE length,
bytes). Long fixtures are cut to their first MAX bytes so seeds stay small.

    fixtures_to_corpus.py OUT_DIR FIXTURE...
"""
import os, struct, sys

MAX = 16384
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    seed, i = b"", 0
    while i + 5 <= len(data) and len(seed) < MAX:
        d, n = struct.unpack("<BI", data[i:i + 5])
        body = data[i + 5:i + 5 + n][:MAX]
        for k in range(0, len(body), 65535):
            part = body[k:k + 65535]
            seed += struct.pack("<BH", d & 1, len(part)) + part
        i += 5 + n
    open(os.path.join(out, os.path.basename(path)), "wb").write(seed)
