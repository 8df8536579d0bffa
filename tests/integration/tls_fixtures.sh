#!/usr/bin/env bash
# TLS handshake parser on byte vectors recorded from a real nginx TLS listener with
# openssl s_client and curl (tests/fixtures/tls/record.sh): TLS 1.3 and 1.2, SNI and no
# SNI, ALPN offered and chosen, the certificate subject (TLS 1.2 only: 1.3 encrypts it), a
# refused protocol version (fatal alert), and the TLS 1.2 session re-framed into 64-byte
# handshake records and one coalesced server record. Each session replayed whole, at
# every split and byte by byte. JA4 is checked against a separate Python computation
# of the FoxIO JA4 definition from the same ClientHello bytes.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
. tests/lib/fixtures.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fixtures=(tests/fixtures/tls/*.bin)
fixtures_run 443 whole,splits,bytes "$tmp/out.ndjson" "${fixtures[@]}"
check "fixtures replayed" test $? -eq 0
cat >"$tmp/checks.py" <<'PY'
import hashlib, struct

def client_hello(path):
    data = open(path, "rb").read()
    d, n = struct.unpack("<BI", data[:5])
    b = data[5:5 + n]
    hs = b""
    while len(b) >= 5 and b[0] == 22:
        l = struct.unpack(">H", b[3:5])[0]; hs += b[5:5 + l]; b = b[5 + l:]
    return hs[4:4 + int.from_bytes(hs[1:4], "big")]

def grease(v): return (v & 0x0f0f) == 0x0a0a and (v >> 8) == (v & 0xff)

def ja4(ch):
    i = 2 + 32; legacy = struct.unpack(">H", ch[:2])[0]
    i += 1 + ch[i]
    n = struct.unpack(">H", ch[i:i + 2])[0]; ciphers = [struct.unpack(">H", ch[i + 2 + k:i + 4 + k])[0] for k in range(0, n, 2)]
    i += 2 + n; i += 1 + ch[i]
    end = i + 2 + struct.unpack(">H", ch[i:i + 2])[0]; i += 2
    exts, sni, alpn, sig, vers = [], False, None, [], []
    while i + 4 <= end:
        t, l = struct.unpack(">HH", ch[i:i + 4]); body = ch[i + 4:i + 4 + l]; i += 4 + l
        if grease(t): continue
        exts.append(t)
        if t == 0: sni = True
        if t == 16: alpn = body[3:3 + body[2]]
        if t == 13: sig = [struct.unpack(">H", body[2 + k:4 + k])[0] for k in range(0, struct.unpack(">H", body[:2])[0], 2)]
        if t == 43: vers = [struct.unpack(">H", body[1 + k:3 + k])[0] for k in range(0, body[0], 2)]
    ciphers = [c for c in ciphers if not grease(c)]
    v = max([x for x in vers if not grease(x)] or [legacy])
    ver = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}.get(v, "00")
    a = "00"
    if alpn:
        a = chr(alpn[0]) + chr(alpn[-1]) if chr(alpn[0]).isalnum() and chr(alpn[-1]).isalnum() else alpn.hex()[0] + alpn.hex()[-1]
    h = lambda s: hashlib.sha256(s.encode()).hexdigest()[:12]
    b = h(",".join("%04x" % c for c in sorted(ciphers))) if ciphers else "0" * 12
    e = ",".join("%04x" % x for x in sorted(x for x in exts if x not in (0, 16)))
    if sig: e += "_" + ",".join("%04x" % s for s in sig if not grease(s))
    c = h(e) if exts else "0" * 12
    return "t%s%s%02d%02d%s_%s_%s" % (ver, "d" if sni else "i", min(len(ciphers), 99), min(len(exts), 99), a, b, c)

for name in sessions:
    r = sessions[name][0] if sessions[name] else {}
    want = ja4(client_hello("tests/fixtures/tls/%s.bin" % name))
    ok(r.get("ja4") == want, f"{name}: JA4 {r.get('ja4')} (python: {want})")

r = find("s_client_tls13", command="HANDSHAKE")
ok(r and r["sni"] == "wirewatch.test" and r["alpn"] == "h2,http/1.1" and r["tls_version"] == "TLSv1.3"
   and r["tls_cipher"].startswith("TLS_AES_") and "cert_subject" not in r and r["status"] == "ok",
   "TLS 1.3: SNI, offered ALPN, version, cipher; certificate not visible")
r = find("s_client_tls12", command="HANDSHAKE")
ok(r and r["alpn"] == "h2" and r["tls_version"] == "TLSv1.2" and r["tls_cipher"].startswith("TLS_ECDHE_ECDSA_")
   and r["cert_subject"] == "C=US,O=Wirewatch Tests,CN=wirewatch.test", "TLS 1.2: chosen ALPN, certificate subject")
r = find("curl_h2", command="HANDSHAKE")
ok(r and r["sni"] == "wirewatch.test" and r["alpn"].startswith("h2") and r["ja4"].startswith("t13d"), "curl over TLS 1.3")
r = find("no_sni_tls12", command="HANDSHAKE")
ok(r and "sni" not in r and r["ja4"][3] == "i" and r["ja4"][8:10] == "00", "no SNI, no ALPN: JA4 'i' and '00'")
r = find("bad_version", command="HANDSHAKE")
ok(r and r["status"] == "error" and r["error"]["code"] == "protocol_version", "refused version: fatal alert")
f, w = find("fragmented", command="HANDSHAKE"), find("s_client_tls12", command="HANDSHAKE")
ok(f and w and {k: v for k, v in f.items() if not k.startswith("bytes")} ==
   {k: v for k, v in w.items() if not k.startswith("bytes")},
   "64-byte fragmented and coalesced handshake records: the same record")
ok(all(len(s) == 1 for s in sessions.values()), "one record per handshake")
PY
fixtures_check "$tmp/out.ndjson" "$tmp/checks.py" "${fixtures[@]}"
check "records checked" test $? -eq 0
tap_done
