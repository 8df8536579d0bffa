/*
 * TLS handshake metadata for connections we cannot decrypt (RFC 8446 TLS 1.3, RFC 5246
 * TLS 1.2): one record per handshake with the server name (SNI, RFC 6066 3), the ALPN
 * protocols (RFC 7301), the negotiated version and cipher suite, a JA4 client fingerprint
 * (FoxIO JA4 specification) and, for TLS <= 1.2 where it is sent in clear, the subject
 * of the server's certificate. Once the handshake is as far as can be seen the connection
 * is marked encrypted and the engine skips the rest of it.
 *
 * Two layers: TLS records (RFC 8446 5.1: type, version, 16-bit length) are walked in the
 * bytes the engine holds; the handshake messages they carry (RFC 8446 4: type, 24-bit
 * length) may be split over several records (fragmented) or several may share one
 * (coalesced). Handshake payloads of consecutive whole records are gathered into a stack
 * buffer and parsed there; the parser consumes whole records only and remembers how far
 * into the next record's payload it has already parsed (hs_off). A handshake message
 * larger than the gather buffer (a long certificate chain) is parsed from its head and
 * the rest skipped by length (hs_skip).
 *
 * `alpn` is the protocol the server chose when it is visible (TLS <= 1.2 ServerHello),
 * otherwise the list the client offered, comma separated.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "counters.h"
#include "parser.h"
#include "sha256.h"
#include "wire.h"

#define TLS_HEADER     5
#define TLS_RECORD_MAX (16384 + 2048) /* RFC 8446 5.2: TLSCiphertext limit */
#define TLS_GATHER     32768	      /* handshake bytes parsed at once */
#define TLS_SLICES     32
#define TLS_LIST_MAX   128 /* ciphers / extensions kept for JA4 */

enum tls_counter {
	TLS_MALFORMED,
	TLS_OVERSIZE,
	TLS_ALERTS,
	TLS_COUNTERS,
};

static const struct counter_def tls_counter_defs[TLS_COUNTERS] = {
	[TLS_MALFORMED] = {"tls_malformed_total",
			   "Records or handshake messages that do not parse"},
	[TLS_OVERSIZE] = {"tls_oversize_handshake_total",
			  "Handshake messages parsed from their head only (rest skipped)"},
	[TLS_ALERTS] = {"tls_alerts_total", "Alerts in clear during a handshake"},
};

enum hs_type {
	HS_CLIENT_HELLO = 1,
	HS_SERVER_HELLO = 2,
	HS_CERTIFICATE = 11,
	HS_SERVER_HELLO_DONE = 14,
};

enum rec_type {
	REC_CCS = 20,
	REC_ALERT = 21,
	REC_HANDSHAKE = 22,
	REC_APPDATA = 23,
	REC_HEARTBEAT = 24,
};

struct tls_dir {
	uint32_t skip;	  /* record bytes still to skip (non-handshake or encrypted) */
	uint32_t hs_off;  /* handshake payload bytes of the record at p already parsed */
	uint32_t hs_skip; /* handshake stream bytes to drop (rest of an oversize message) */
	bool ccs;	  /* ChangeCipherSpec sent: later handshake records are encrypted */
};

struct tls_state {
	struct tls_dir d[2];
	/* the handshake's record: a slot of the engine's pairing queue, valid until finished
	 * here (or at close by the engine, which frees this state too) */
	struct query_record *rec;
	bool hello_seen;
	bool server_hello;
	bool tls13;
	bool done;
};

static const uint16_t tls_ports[] = {443, 8443, 993, 995, 465, 636, 853, 5671, 6443, 0};

static struct parse_result result(enum parse_status s, uint32_t consumed, uint32_t needed)
{
	return (struct parse_result){s, consumed, needed};
}

/* RFC 8701: GREASE values are 0x?a?a with both bytes equal. */
static bool is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static const char *version_name(uint16_t v)
{
	switch (v) {
	case 0x0304:
		return "TLSv1.3";
	case 0x0303:
		return "TLSv1.2";
	case 0x0302:
		return "TLSv1.1";
	case 0x0301:
		return "TLSv1.0";
	case 0x0300:
		return "SSLv3";
	default:
		return NULL;
	}
}

/* IANA names of the suites seen in practice; others as hex. */
static const char *cipher_name(uint16_t c, char *buf, size_t cap)
{
	static const struct {
		uint16_t id;
		const char *name;
	} suites[] = {
		{0x1301, "TLS_AES_128_GCM_SHA256"},
		{0x1302, "TLS_AES_256_GCM_SHA384"},
		{0x1303, "TLS_CHACHA20_POLY1305_SHA256"},
		{0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		{0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
		{0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		{0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
		{0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
		{0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
		{0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
		{0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
		{0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
		{0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
		{0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
		{0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
		{0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"},
		{0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
	};

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (suites[i].id == c)
			return suites[i].name;
	snprintf(buf, cap, "0x%04x", c);
	return buf;
}

/* RFC 8446 6.2 alert descriptions seen during handshakes. */
static const char *alert_name(uint8_t d, char *buf, size_t cap)
{
	switch (d) {
	case 0:
		return "close_notify";
	case 10:
		return "unexpected_message";
	case 40:
		return "handshake_failure";
	case 42:
		return "bad_certificate";
	case 46:
		return "certificate_unknown";
	case 48:
		return "unknown_ca";
	case 70:
		return "protocol_version";
	case 80:
		return "internal_error";
	case 109:
		return "missing_extension";
	case 112:
		return "unrecognized_name";
	case 120:
		return "no_application_protocol";
	default:
		snprintf(buf, cap, "alert_%u", d);
		return buf;
	}
}

/* ---- JA4 (FoxIO JA4 specification, "JA4: TLS Client Fingerprint") ---- */

static int cmp_u16(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;

	return x < y ? -1 : x > y;
}

static void sort_u16(uint16_t *v, uint32_t n)
{
	/* insertion sort: at most TLS_LIST_MAX items, no qsort callback on the hot path */
	for (uint32_t i = 1; i < n; i++) {
		uint16_t x = v[i];
		uint32_t j = i;

		while (j > 0 && cmp_u16(&v[j - 1], &x) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

static void hash_hex_list(struct sha256 *s, const uint16_t *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		char hex[6];

		snprintf(hex, sizeof(hex), i ? ",%04x" : "%04x", v[i]);
		sha256_update(s, hex, strlen(hex));
	}
}

static void hash_out12(struct sha256 *s, char out[13])
{
	uint8_t d[32];

	sha256_final(s, d);
	for (int i = 0; i < 6; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

struct client_hello {
	uint16_t legacy_version;
	uint16_t max_version; /* highest of supported_versions, 0 if absent */
	bool sni_seen;
	const uint8_t *sni;
	uint16_t sni_len;
	const uint8_t *alpn; /* the ALPN extension's protocol_name_list */
	uint16_t alpn_len;
	uint16_t ciphers[TLS_LIST_MAX];
	uint32_t nciphers;
	uint16_t exts[TLS_LIST_MAX];
	uint32_t nexts;
	uint16_t sigalgs[TLS_LIST_MAX];
	uint32_t nsigalgs;
};

static bool is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void ja4(const struct client_hello *ch, char *out, size_t cap)
{
	uint16_t v = ch->max_version ? ch->max_version : ch->legacy_version;
	const char *ver = v == 0x0304	? "13"
			  : v == 0x0303 ? "12"
			  : v == 0x0302 ? "11"
			  : v == 0x0301 ? "10"
			  : v == 0x0300 ? "s3"
					: "00";
	uint16_t ciphers[TLS_LIST_MAX], exts[TLS_LIST_MAX];
	uint32_t nc = 0, ne = 0;
	char alpn[3] = "00", b[13] = "000000000000", c[13] = "000000000000";
	struct sha256 s;

	for (uint32_t i = 0; i < ch->nciphers; i++)
		ciphers[nc++] = ch->ciphers[i];
	for (uint32_t i = 0; i < ch->nexts; i++)
		exts[ne++] = ch->exts[i];
	if (ch->alpn && ch->alpn_len >= 3) {
		uint8_t l = ch->alpn[2];
		const uint8_t *first = ch->alpn + 3;

		if (l && 3u + l <= ch->alpn_len) {
			if (is_alnum(first[0]) && is_alnum(first[l - 1])) {
				alpn[0] = (char)first[0];
				alpn[1] = (char)first[l - 1];
			} else {
				alpn[0] = "0123456789abcdef"[first[0] >> 4];
				alpn[1] = "0123456789abcdef"[first[l - 1] & 15];
			}
		}
	}
	if (nc) {
		sort_u16(ciphers, nc);
		sha256_init(&s);
		hash_hex_list(&s, ciphers, nc);
		hash_out12(&s, b);
	}
	{
		/* SNI (0x0000) and ALPN (0x0010) are counted in a but left out of c */
		uint16_t hashed[TLS_LIST_MAX];
		uint32_t nh = 0;

		for (uint32_t i = 0; i < ne; i++)
			if (exts[i] != 0x0000 && exts[i] != 0x0010)
				hashed[nh++] = exts[i];
		if (ne) {
			sort_u16(hashed, nh);
			sha256_init(&s);
			hash_hex_list(&s, hashed, nh);
			if (ch->nsigalgs) {
				sha256_update(&s, "_", 1);
				hash_hex_list(&s, ch->sigalgs, ch->nsigalgs);
			}
			hash_out12(&s, c);
		}
	}
	snprintf(out, cap, "t%s%c%02u%02u%s_%s_%s", ver, ch->sni_seen ? 'd' : 'i',
		 nc > 99 ? 99 : nc, ne > 99 ? 99 : ne, alpn, b, c);
}

/* ---- handshake messages ---- */

/* ClientHello (RFC 8446 4.1.2, RFC 5246 7.4.1.2). */
static void client_hello(struct parse_ctx *ctx, struct tls_state *st, struct wire *w,
			 uint32_t bytes)
{
	struct client_hello ch;
	struct query_record *rec;
	char fp[64];
	uint16_t n;

	memset(&ch, 0, sizeof(ch));
	ch.legacy_version = wire_u16be(w);
	wire_skip(w, 32);	  /* random */
	wire_skip(w, wire_u8(w)); /* legacy_session_id */
	n = wire_u16be(w);	  /* cipher_suites */
	for (uint16_t i = 0; i + 1 < n && !w->bad; i += 2) {
		uint16_t c = wire_u16be(w);

		if (!is_grease(c) && ch.nciphers < TLS_LIST_MAX)
			ch.ciphers[ch.nciphers++] = c;
	}
	if (n & 1)
		wire_skip(w, 1);
	wire_skip(w, wire_u8(w)); /* legacy_compression_methods */
	if (w->bad) {
		parse_count(ctx, TLS_MALFORMED);
		return;
	}
	if (wire_left(w) >= 2) {
		/* extensions; of a ClientHello cut by the gather limit, what is there is read */
		uint16_t total = wire_u16be(w);
		struct wire exts = wire_init(w->p, wire_left(w) < total ? wire_left(w) : total);

		while (wire_left(&exts) >= 4) {
			uint16_t type = wire_u16be(&exts), len = wire_u16be(&exts);
			const uint8_t *body = wire_bytes(&exts, len);
			struct wire b;

			if (!body)
				break;
			b = wire_init(body, len);
			if (!is_grease(type) && ch.nexts < TLS_LIST_MAX)
				ch.exts[ch.nexts++] = type;
			switch (type) {
			case 0x0000: { /* server_name (RFC 6066 3): the first host_name */
				wire_u16be(&b);
				ch.sni_seen = true;
				if (wire_u8(&b) == 0) {
					ch.sni_len = wire_u16be(&b);
					ch.sni = wire_bytes(&b, ch.sni_len);
					if (!ch.sni)
						ch.sni_len = 0;
				}
				break;
			}
			case 0x0010: /* application_layer_protocol_negotiation (RFC 7301 3.1) */
				ch.alpn = body;
				ch.alpn_len = len;
				break;
			case 0x000d: { /* signature_algorithms (RFC 8446 4.2.3) */
				uint16_t l = wire_u16be(&b);

				for (uint16_t i = 0; i + 1 < l && !b.bad; i += 2) {
					uint16_t a = wire_u16be(&b);

					if (!b.bad && !is_grease(a) && ch.nsigalgs < TLS_LIST_MAX)
						ch.sigalgs[ch.nsigalgs++] = a;
				}
				break;
			}
			case 0x002b: { /* supported_versions (RFC 8446 4.2.1) */
				uint8_t l = wire_u8(&b);

				for (uint8_t i = 0; i + 1 < l && !b.bad; i += 2) {
					uint16_t v = wire_u16be(&b);

					if (!b.bad && !is_grease(v) && v > ch.max_version &&
					    v <= 0x0304)
						ch.max_version = v;
				}
				break;
			}
			default:
				break;
			}
		}
	}
	if (st->hello_seen) /* the second ClientHello after a HelloRetryRequest */
		return;
	st->hello_seen = true;
	rec = record_begin(ctx);
	st->rec = rec;
	record_add_bytes(rec, DIR_REQUEST, bytes);
	record_set_cstr(rec, RS_COMMAND, "HANDSHAKE");
	if (ch.sni_len)
		record_set_str(rec, RS_SNI, ch.sni, ch.sni_len);
	if (ch.alpn && ch.alpn_len > 2) {
		/* protocol_name_list: u16 length, then u8-prefixed names, shown comma-joined */
		char list[256];
		size_t at = 0;
		struct wire a = wire_init(ch.alpn + 2, ch.alpn_len - 2u);

		while (wire_left(&a) > 0) {
			uint8_t l = wire_u8(&a);
			const uint8_t *name = wire_bytes(&a, l);

			if (!name || at + l + 1 >= sizeof(list))
				break;
			if (at)
				list[at++] = ',';
			memcpy(list + at, name, l);
			at += l;
		}
		record_set_str(rec, RS_ALPN, list, at);
	}
	ja4(&ch, fp, sizeof(fp));
	record_set_cstr(rec, RS_JA4, fp);
}

/* HelloRetryRequest is a ServerHello with this random (RFC 8446 4.1.3). */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
	0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
	0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

static void finish(struct parse_ctx *ctx, struct tls_state *st, enum record_status status)
{
	st->done = true;
	/* before the record is written: it belongs to an encrypted connection */
	parse_conn_set_encrypted(ctx);
	if (st->rec)
		record_finish(ctx, st->rec, status);
	st->rec = NULL;
}

/* ServerHello (RFC 8446 4.1.3, RFC 5246 7.4.1.3). */
static void server_hello(struct parse_ctx *ctx, struct tls_state *st, struct wire *w)
{
	uint16_t version = wire_u16be(w), cipher;
	const uint8_t *random = wire_bytes(w, 32);
	char buf[16];
	const char *vn;

	wire_skip(w, wire_u8(w)); /* legacy_session_id_echo */
	cipher = wire_u16be(w);
	wire_u8(w); /* legacy_compression_method */
	if (w->bad) {
		parse_count(ctx, TLS_MALFORMED);
		return;
	}
	if (wire_left(w) >= 2) {
		uint16_t total = wire_u16be(w);
		struct wire exts = wire_init(w->p, wire_left(w) < total ? wire_left(w) : total);

		while (wire_left(&exts) >= 4) {
			uint16_t type = wire_u16be(&exts), len = wire_u16be(&exts);
			const uint8_t *body = wire_bytes(&exts, len);
			struct wire b;

			if (!body)
				break;
			b = wire_init(body, len);
			if (type == 0x002b && len == 2) { /* supported_versions: the chosen one */
				version = wire_u16be(&b);
			} else if (type == 0x0010 && len > 3) { /* ALPN: the one chosen */
				uint8_t l;

				wire_u16be(&b);
				l = wire_u8(&b);
				if (wire_left(&b) >= l)
					record_set_str(st->rec, RS_ALPN, b.p, l);
			}
		}
	}
	if (random && memcmp(random, hrr_random, 32) == 0)
		return; /* HelloRetryRequest: the real ServerHello follows a second ClientHello */
	st->server_hello = true;
	vn = version_name(version);
	if (vn)
		record_set_cstr(st->rec, RS_TLS_VERSION, vn);
	record_set_cstr(st->rec, RS_TLS_CIPHER, cipher_name(cipher, buf, sizeof(buf)));
	if (version == 0x0304) {
		/* TLS 1.3: everything after ServerHello is encrypted (RFC 8446 2) */
		st->tls13 = true;
		finish(ctx, st, RECORD_OK);
	}
}

/* A DER length (X.690 8.1.3); false when malformed. */
static bool der_len(struct wire *w, uint32_t *len)
{
	uint8_t b = wire_u8(w);

	if (b < 0x80) {
		*len = b;
	} else {
		uint8_t n = b & 0x7f;

		if (n == 0 || n > 3)
			return false;
		*len = 0;
		for (uint8_t i = 0; i < n; i++)
			*len = *len << 8 | wire_u8(w);
	}
	return !w->bad && *len <= wire_left(w);
}

/* Enters the DER element of `tag` at w: w becomes its contents; *rest what follows. */
static bool der_enter(struct wire *w, uint8_t tag, struct wire *inner)
{
	uint32_t len;

	if (wire_u8(w) != tag || !der_len(w, &len))
		return false;
	*inner = wire_init(wire_bytes(w, len), len);
	return !w->bad;
}

static bool der_skip(struct wire *w)
{
	uint32_t len;

	wire_u8(w);
	if (!der_len(w, &len))
		return false;
	wire_skip(w, len);
	return !w->bad;
}

/* Certificate (RFC 5246 7.4.2): the first certificate's subject (RFC 5280 4.1.2.6). */
static void certificate(struct parse_ctx *ctx, struct tls_state *st, struct wire *w)
{
	static const struct {
		uint8_t oid_last;
		const char *name;
	} attrs[] = {{3, "CN"}, {6, "C"}, {7, "L"}, {8, "ST"}, {10, "O"}, {11, "OU"}};
	struct wire cert, tbs, name;
	char subject[256];
	size_t at = 0;

	wire_skip(w, 3); /* certificate_list length */
	wire_skip(w, 3); /* the first certificate's length */
	if (w->bad || !der_enter(w, 0x30, &cert) || !der_enter(&cert, 0x30, &tbs)) {
		parse_count(ctx, TLS_MALFORMED);
		return;
	}
	if (wire_left(&tbs) && tbs.p[0] == 0xa0 && !der_skip(&tbs)) /* [0] version */
		return;
	/* serialNumber, signature, issuer, validity, then subject */
	for (int i = 0; i < 4; i++)
		if (!der_skip(&tbs))
			return;
	if (!der_enter(&tbs, 0x30, &name))
		return;
	while (wire_left(&name) > 0) {
		struct wire set, atv, oid;
		const uint8_t *v;
		uint32_t vlen;

		if (!der_enter(&name, 0x31, &set) || !der_enter(&set, 0x30, &atv) ||
		    !der_enter(&atv, 0x06, &oid))
			break;
		wire_u8(&atv); /* the string's tag: PrintableString, UTF8String, ... */
		if (!der_len(&atv, &vlen) || !(v = wire_bytes(&atv, vlen)))
			break;
		/* id-at (2.5.4.x): 55 04 x */
		if (wire_left(&oid) != 3 || oid.p[0] != 0x55 || oid.p[1] != 0x04)
			continue;
		for (size_t k = 0; k < sizeof(attrs) / sizeof(attrs[0]); k++) {
			size_t nl = strlen(attrs[k].name);

			if (attrs[k].oid_last != oid.p[2] || at + nl + vlen + 2 >= sizeof(subject))
				continue;
			if (at)
				subject[at++] = ',';
			memcpy(subject + at, attrs[k].name, nl);
			at += nl;
			subject[at++] = '=';
			memcpy(subject + at, v, vlen);
			at += vlen;
		}
	}
	if (at)
		record_set_str(st->rec, RS_CERT_SUBJECT, subject, at);
}

static void handshake_message(struct parse_ctx *ctx, struct tls_state *st, enum dir dir,
			      const uint8_t *m, uint32_t len, uint32_t wire_bytes_count)
{
	struct wire w = wire_init(m + 4, len - 4);

	if (dir == DIR_REQUEST) {
		if (m[0] == HS_CLIENT_HELLO)
			client_hello(ctx, st, &w, wire_bytes_count);
		return;
	}
	record_add_bytes(st->rec, DIR_RESPONSE, wire_bytes_count);
	switch (m[0]) {
	case HS_SERVER_HELLO:
		server_hello(ctx, st, &w);
		break;
	case HS_CERTIFICATE:
		if (!st->tls13)
			certificate(ctx, st, &w);
		break;
	case HS_SERVER_HELLO_DONE:
		finish(ctx, st, RECORD_OK);
		break;
	default:
		break;
	}
}

/* ---- records ---- */

struct slice {
	const uint8_t *p;
	uint32_t len;
	uint32_t wire_end; /* offset after this record in the bytes given */
};

/*
 * Handshake records at p: gathers the payloads of consecutive whole handshake records,
 * parses every whole message in them, consumes the records it is done with.
 */
static struct parse_result handshake_records(struct parse_ctx *ctx, struct tls_state *st,
					     enum dir dir, const uint8_t *p, uint32_t len)
{
	struct tls_dir *d = &st->d[dir];
	uint8_t buf[TLS_GATHER];
	struct slice sl[TLS_SLICES];
	uint32_t nsl = 0, have = 0, off = 0, pos = 0, next_need = 0;

	/* whole handshake records from p on */
	while (nsl < TLS_SLICES && off + TLS_HEADER <= len && p[off] == REC_HANDSHAKE) {
		uint32_t rlen = (uint32_t)p[off + 3] << 8 | p[off + 4];
		uint32_t skip = nsl == 0 ? d->hs_off : 0;

		if (rlen > TLS_RECORD_MAX || (nsl == 0 && skip > rlen)) {
			parse_count(ctx, TLS_MALFORMED);
			return result(PARSE_LOST, 0, 0);
		}
		if (off + TLS_HEADER + rlen > len) {
			next_need = off + TLS_HEADER + rlen;
			break;
		}
		sl[nsl].p = p + off + TLS_HEADER + skip;
		sl[nsl].len = rlen - skip;
		off += TLS_HEADER + rlen;
		sl[nsl].wire_end = off;
		if (have < sizeof(buf)) {
			uint32_t n = sl[nsl].len < sizeof(buf) - have
					     ? sl[nsl].len
					     : (uint32_t)sizeof(buf) - have;

			memcpy(buf + have, sl[nsl].p, n);
			have += n;
		}
		nsl++;
	}
	if (nsl == 0) {
		if (!next_need)
			next_need = off + TLS_HEADER;
		return result(PARSE_MORE, 0, next_need);
	}
	if (!next_need && off + TLS_HEADER > len)
		next_need = off + TLS_HEADER;
	/* the handshake messages in what was gathered */
	while (pos < have) {
		uint32_t mlen;

		if (d->hs_skip) {
			uint32_t k = d->hs_skip < have - pos ? d->hs_skip : have - pos;

			d->hs_skip -= k;
			pos += k;
			continue;
		}
		if (have - pos < 4)
			break;
		mlen = 4u +
		       ((uint32_t)buf[pos + 1] << 16 | (uint32_t)buf[pos + 2] << 8 | buf[pos + 3]);
		if (mlen > have - pos) {
			/* cut: wait for more records, unless they could never be gathered */
			bool full = have == sizeof(buf) || nsl == TLS_SLICES ||
				    (next_need && next_need > parse_max_message(ctx)) ||
				    len >= parse_max_message(ctx);

			if (!full)
				break;
			parse_count(ctx, TLS_OVERSIZE);
			handshake_message(ctx, st, dir, buf + pos, have - pos, have - pos);
			d->hs_skip = mlen - (have - pos);
			pos = have;
			break;
		}
		handshake_message(ctx, st, dir, buf + pos, mlen, mlen);
		pos += mlen;
		if (st->done)
			return result(PARSE_OK, len, 0); /* the engine drops the rest */
	}
	/* whole records whose payload was all parsed are consumed */
	{
		uint32_t consumed = 0, acc = 0;

		for (uint32_t i = 0; i < nsl; i++) {
			if (acc + sl[i].len > pos) {
				d->hs_off = (i == 0 ? d->hs_off : 0) + (pos - acc);
				break;
			}
			acc += sl[i].len;
			consumed = sl[i].wire_end;
			d->hs_off = 0;
		}
		if (consumed)
			return result(PARSE_OK, consumed, 0);
	}
	/* nothing whole to consume yet (hs_off may have moved inside the first record) */
	return result(PARSE_MORE, 0, next_need ? next_need : len + TLS_HEADER);
}

static struct parse_result tls_on_data(struct parse_ctx *ctx, void *state, enum dir dir,
				       const uint8_t *p, uint32_t len)
{
	struct tls_state *st = state;
	struct tls_dir *d = &st->d[dir];
	uint32_t rlen, n;
	uint8_t type;

	if (d->skip) {
		n = len < d->skip ? len : d->skip;
		d->skip -= n;
		return result(PARSE_OK, n, 0);
	}
	if (len < TLS_HEADER)
		return result(PARSE_MORE, 0, TLS_HEADER);
	type = p[0];
	rlen = (uint32_t)p[3] << 8 | p[4];
	if (type < REC_CCS || type > REC_HEARTBEAT || p[1] != 3 || rlen > TLS_RECORD_MAX) {
		/* SSLv2-style or not TLS at all: nothing more to learn here */
		parse_count(ctx, TLS_MALFORMED);
		return result(PARSE_LOST, 0, 0);
	}
	if (type == REC_HANDSHAKE && !d->ccs)
		return handshake_records(ctx, st, dir, p, len);
	if (type == REC_CCS) {
		d->ccs = true;
		/* TLS <= 1.2 resumption: no Certificate, no ServerHelloDone */
		if (dir == DIR_RESPONSE && st->server_hello && !st->done)
			finish(ctx, st, RECORD_OK);
	} else if (type == REC_ALERT && !d->ccs && !st->done && rlen == 2) {
		char buf[16];

		if (len < 7)
			return result(PARSE_MORE, 0, 7); /* an alert in clear: read it whole */

		parse_count(ctx, TLS_ALERTS);
		if (dir == DIR_RESPONSE && st->rec && p[5] == 2) { /* fatal */
			record_set_cstr(st->rec, RS_ERROR_CODE, alert_name(p[6], buf, sizeof(buf)));
			record_set_cstr(st->rec, RS_ERROR_SEVERITY, "fatal");
			finish(ctx, st, RECORD_ERROR);
			return result(PARSE_OK, len, 0);
		}
	} else if (type == REC_APPDATA && !st->done && st->server_hello) {
		finish(ctx, st, RECORD_OK);
		return result(PARSE_OK, len, 0);
	}
	record_add_bytes(st->rec, dir, TLS_HEADER + rlen);
	/* skip the record as it streams by */
	n = TLS_HEADER + rlen;
	if (n > len) {
		d->skip = n - len;
		return result(PARSE_OK, len, 0);
	}
	return result(PARSE_OK, n, 0);
}

static void tls_on_gap(struct parse_ctx *ctx, void *state, enum dir dir, uint64_t missing)
{
	struct tls_state *st = state;

	if (st->d[dir].skip && missing < st->d[dir].skip) {
		st->d[dir].skip -= (uint32_t)missing;
		return;
	}
	parse_give_up(ctx);
}

/* ---- detection ---- */

static int tls_detect(const uint8_t *p, uint32_t len, enum dir dir)
{
	uint32_t rlen;

	if (len < 6)
		return len >= 1 && p[0] != REC_HANDSHAKE ? DETECT_NOT_MINE : DETECT_NEED_MORE;
	rlen = (uint32_t)p[3] << 8 | p[4];
	/* RFC 8446 5.1: handshake record, legacy version 3.x, then ClientHello/ServerHello */
	if (p[0] != REC_HANDSHAKE || p[1] != 3 || p[2] > 4 || rlen < 4 || rlen > TLS_RECORD_MAX)
		return DETECT_NOT_MINE;
	if (dir == DIR_REQUEST && p[5] == HS_CLIENT_HELLO)
		return 95;
	if (dir == DIR_RESPONSE && p[5] == HS_SERVER_HELLO)
		return 80;
	return DETECT_NOT_MINE;
}

const struct parser tls_parser = {
	.name = "tls",
	.flags = 0,
	.ports = tls_ports,
	.state_size = sizeof(struct tls_state),
	.detect = tls_detect,
	.on_data = tls_on_data,
	.on_gap = tls_on_gap,
	.on_close = NULL,
	.counter_defs = tls_counter_defs,
	.counter_count = TLS_COUNTERS,
};
