#!/usr/bin/env python3
"""Real traffic on loopback for the packet-source tests, and what was sent.

    loopback_traffic.py PORT UPORT OUT.json [--http HPORT] [--extra-flows N]

TCP servers on 127.0.0.1 and ::1 PORT answer 3n+17 bytes in 1400-byte writes to n bytes
received; clients send several sizes in several write sizes (IPv4 and IPv6); a UDP echo
on UPORT answers each datagram twice over. With --http, GET/404/HEAD/POST requests to a
local http.server for the tshark differential checks. OUT.json lists every connection:
{"proto", "client_port", "req", "resp"} with the bytes each side really sent.
"""
import argparse, http.client, http.server, json, os, socket, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("uport", type=int)
ap.add_argument("out")
ap.add_argument("--http", type=int, default=0, help="also an HTTP server on this port")
ap.add_argument("--extra-flows", type=int, default=0, help="more small TCP flows")
args = ap.parse_args()
port, uport, hport, out = args.port, args.uport, args.http, args.out

def serve(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(16)
    while True:
        c, _ = s.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        n = 0
        while True:
            b = c.recv(65536)
            if not b:
                break
            n += len(b)
        body = bytes((i * 31) & 0xff for i in range(3 * n + 17))
        for i in range(0, len(body), 1400):
            c.sendall(body[i:i + 1400])
        c.close()

def udp_serve():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", uport))
    while True:
        b, a = s.recvfrom(65536)
        s.sendto(b * 2, a)

for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    threading.Thread(target=serve, args=(fam, addr), daemon=True).start()
threading.Thread(target=udp_serve, daemon=True).start()
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass

if hport:
    os.chdir(os.path.dirname(os.path.abspath(out)))  # http.server serves the test's directory
    web = http.server.ThreadingHTTPServer(("127.0.0.1", hport), Quiet)
    threading.Thread(target=web.serve_forever, daemon=True).start()
time.sleep(0.3)

conns = []
def client(fam, addr, size, write):
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.connect((addr, port))
    data = bytes((i * 7) & 0xff for i in range(size))
    for i in range(0, size, write):
        c.sendall(data[i:i + write])
    c.shutdown(socket.SHUT_WR)
    got = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += len(b)
    conns.append({"proto": "tcp", "client_port": c.getsockname()[1], "req": size, "resp": got})
    c.close()

client(socket.AF_INET, "127.0.0.1", 200000, 1000)
client(socket.AF_INET, "127.0.0.1", 100, 100)
client(socket.AF_INET, "127.0.0.1", 700000, 65536)
client(socket.AF_INET6, "::1", 5000, 500)
for _ in range(args.extra_flows):  # e.g. so a fanout of two gets some on each reader
    client(socket.AF_INET, "127.0.0.1", 3000, 700)

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect(("127.0.0.1", uport))
sent = got = 0
for n in (10, 300, 1200):
    u.send(b"q" * n)
    sent += n
    got += len(u.recv(65536))
conns.append({"proto": "udp", "client_port": u.getsockname()[1], "req": sent, "resp": got})
# HTTP for the differential check against tshark: 200, 404, HEAD, 501 for a POST
for method, path in (("GET", "/"), ("GET", "/missing.html"), ("HEAD", "/"), ("POST", "/form")) if hport else ():
    h = http.client.HTTPConnection("127.0.0.1", hport)
    h.request(method, path, body=b"a=1" if method == "POST" else None)
    h.getresponse().read()
    h.close()
json.dump(conns, open(out, "w"))
