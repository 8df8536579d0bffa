#!/usr/bin/env python3
"""Relays UDP datagrams to a real server and records them, one fixture per client.

    udp_recorder.py LISTEN_PORT TARGET_PORT OUT_PREFIX

Each client address (ip, port) gets its own upstream socket and its own fixture file
OUT_PREFIX.N.bin in the tcp_recorder.py format (u8 direction, u32 LE length, bytes), one
record per datagram. Stops on SIGTERM.
"""
import selectors, signal, socket, struct, sys

listen_port, target_port, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(("127.0.0.1", listen_port))
sel = selectors.DefaultSelector()
sel.register(srv, selectors.EVENT_READ, None)
clients = {}
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

while True:
    for key, _ in sel.select():
        if key.data is None:
            data, addr = srv.recvfrom(65536)
            if addr not in clients:
                up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                up.connect(("127.0.0.1", target_port))
                out = open(f"{prefix}.{len(clients)}.bin", "wb")
                clients[addr] = (up, out)
                sel.register(up, selectors.EVENT_READ, addr)
            up, out = clients[addr]
            out.write(struct.pack("<BI", 0, len(data)) + data)
            out.flush()
            up.send(data)
        else:
            addr = key.data
            up, out = clients[addr]
            data = up.recv(65536)
            out.write(struct.pack("<BI", 1, len(data)) + data)
            out.flush()
            srv.sendto(data, addr)
