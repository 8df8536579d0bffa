#!/usr/bin/env python3
"""Relays TCP connections to a real server and records what each side sent.

    tcp_recorder.py LISTEN_PORT TARGET_PORT OUT_PREFIX

Every accepted connection is relayed to 127.0.0.1:TARGET_PORT; each read() on either
side is one record of the fixture file OUT_PREFIX.N.bin (N counts connections):
    u8 direction (0 = client to server, 1 = server to client), u32 little-endian length,
    then the bytes.
So fixtures keep the real server's bytes and the real segmentation. Stops on SIGTERM.
"""
import os, selectors, signal, socket, struct, sys

listen_port, target_port, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen_port))
srv.listen(16)
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ, None)
count = 0
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

while True:
    for key, _ in sel.select():
        if key.data is None:
            client, _ = srv.accept()
            upstream = socket.create_connection(("127.0.0.1", target_port))
            out = open(f"{prefix}.{count}.bin", "wb")
            count += 1
            sel.register(client, selectors.EVENT_READ, (0, client, upstream, out))
            sel.register(upstream, selectors.EVENT_READ, (1, upstream, client, out))
            continue
        direction, src, dst, out = key.data
        if src.fileno() < 0:
            continue  # closed earlier in this same round of events
        data = src.recv(65536)
        if not data:
            for s in (src, dst):
                try:
                    sel.unregister(s)
                except (KeyError, ValueError):
                    pass
                s.close()
            out.close()
            continue
        out.write(struct.pack("<BI", direction, len(data)) + data)
        out.flush()
        dst.sendall(data)
