/*
 * DNS over UDP and TCP (RFC 1035; TCP framing RFC 1035 4.2.2 and RFC 7766): one record per
 * query with the name asked (`query`), its type and the answer's rcode as mnemonics, the
 * header flags as dig prints them, and the answers rendered as text (addresses, names,
 * "10 mail.example.com" for MX, SRV, SOA, TXT, SVCB/HTTPS).
 *
 * Queries and responses pair by message ID (and question), not by order: a resolver
 * sends A and AAAA at once and the answers come back in any order. A response whose
 * query was not seen (capture started later) is still reported, alone.
 *
 * Every A/AAAA answer feeds the DNS cache (dns_cache.h) with address -> the name the
 * client asked (not the CNAME target), so later connections to the address are named.
 *
 * Transport: the engine hands a UDP datagram as one whole call; on TCP each message has a
 * two-byte length prefix and several messages may share a connection. The parser tells
 * them apart on the first message of the connection (the header fields land at different
 * offsets) and keeps the answer. Names are decompressed with loop and bound protection
 * (RFC 1035 4.1.4): a pointer must point before the label that holds it, at most
 * DNS_JUMPS_MAX pointers are followed, and a name is at most 255 bytes.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "counters.h"
#include "dns_cache.h"
#include "parser.h"
#include "wire.h"

#define DNS_HEADER	12
#define DNS_NAME_MAX	256 /* 255 bytes of presentation form + NUL */
#define DNS_JUMPS_MAX	32
#define DNS_PENDING	16
#define DNS_ANSWERS_MAX 32
#define DNS_RDATA_TEXT	1024 /* a long TXT answer is cut here */

enum dns_counter {
	DNS_MALFORMED,
	DNS_UNMATCHED,
	DNS_OVERSIZE,
	DNS_CACHE_FULL,
	DNS_COUNTERS,
};

static const struct counter_def dns_counter_defs[DNS_COUNTERS] = {
	[DNS_MALFORMED] = {"dns_malformed_total", "Messages that do not parse (skipped)"},
	[DNS_UNMATCHED] = {"dns_unmatched_responses_total",
			   "Responses whose query was not seen (reported alone)"},
	[DNS_OVERSIZE] = {"dns_oversize_total",
			  "TCP messages longer than parsers.buffer_bytes (skipped)"},
	[DNS_CACHE_FULL] = {"dns_cache_dropped_total",
			    "Answers not cached (no cache shard for this thread)"},
};

enum dns_transport {
	DNS_UNKNOWN = 0,
	DNS_UDP,
	DNS_TCP,
};

/*
 * A query waiting for its response. rec is a slot of the engine's pairing queue: valid
 * until it is finished here or the engine finishes it at close (which also frees this).
 */
struct dns_pending {
	struct query_record *rec;
	uint16_t id;
	uint16_t qtype;
	bool used;
};

struct dns_state {
	uint8_t transport;
	uint32_t skip[2]; /* rest of an oversize TCP message */
	uint8_t next;	  /* round-robin victim when the table is full */
	struct dns_pending pend[DNS_PENDING];
};

static const uint16_t dns_ports[] = {53, 5353, 5355, 853, 0};

/* ---- mnemonics ---- */

static const struct {
	uint16_t type;
	const char *name;
} dns_types[] = {
	{1, "A"},     {2, "NS"},    {5, "CNAME"},  {6, "SOA"},	 {12, "PTR"},	 {13, "HINFO"},
	{15, "MX"},   {16, "TXT"},  {28, "AAAA"},  {33, "SRV"},	 {35, "NAPTR"},	 {39, "DNAME"},
	{41, "OPT"},  {43, "DS"},   {46, "RRSIG"}, {47, "NSEC"}, {48, "DNSKEY"}, {50, "NSEC3"},
	{52, "TLSA"}, {64, "SVCB"}, {65, "HTTPS"}, {99, "SPF"},	 {251, "IXFR"},	 {252, "AXFR"},
	{255, "ANY"}, {257, "CAA"},
};

static const char *const dns_rcodes[] = {
	"NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",
};

static const char *const dns_opcodes[] = {"QUERY",  "IQUERY", "STATUS", "OPCODE3",
					  "NOTIFY", "UPDATE", "DSO"};

/* The type's mnemonic, or "TYPEn" (RFC 3597 5) in buf. */
static const char *type_name(uint16_t t, char *buf, size_t cap)
{
	for (size_t i = 0; i < sizeof(dns_types) / sizeof(dns_types[0]); i++)
		if (dns_types[i].type == t)
			return dns_types[i].name;
	snprintf(buf, cap, "TYPE%u", t);
	return buf;
}

/* ---- names ---- */

/*
 * Reads the (possibly compressed) name at *off of msg[0..len) into out as dotted text
 * ("." for the root). *off moves past the name as it appears at *off. Returns the text
 * length, or -1 on a malformed name (bad label, pointer loop or forward pointer, too long).
 */
static int dns_name(const uint8_t *msg, uint32_t len, uint32_t *off, char *out, size_t cap)
{
	uint32_t pos = *off, jumps = 0, end_after = 0, wire_len = 0;
	size_t n = 0;
	bool jumped = false;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -1;
		l = msg[pos];
		if (l == 0) {
			pos++;
			break;
		}
		if ((l & 0xc0) == 0xc0) {
			uint32_t target;

			if (pos + 1 >= len)
				return -1;
			target = (uint32_t)(l & 0x3f) << 8 | msg[pos + 1];
			/* RFC 1035 4.1.4: pointers go to a prior occurrence; strictly backward
			 * pointers and a jump budget make loops impossible */
			if (target >= pos || ++jumps > DNS_JUMPS_MAX)
				return -1;
			if (!jumped)
				end_after = pos + 2;
			jumped = true;
			pos = target;
			continue;
		}
		if (l & 0xc0)
			return -1; /* 0x40/0x80: extended label types (RFC 6891 obsoleted them) */
		if (pos + 1 + l > len)
			return -1;
		wire_len += l + 1u;
		if (wire_len > 255)
			return -1;
		if (n && n + 1 < cap)
			out[n++] = '.';
		for (uint32_t i = 0; i < l && n + 1 < cap; i++)
			out[n++] = (char)msg[pos + 1 + i];
		pos += 1u + l;
	}
	if (n == 0 && cap > 1)
		out[n++] = '.';
	out[n < cap ? n : cap - 1] = '\0';
	*off = jumped ? end_after : pos;
	return (int)n;
}

/* ---- answers ---- */

static size_t put(char *buf, size_t at, size_t cap, const char *s, size_t n)
{
	if (at >= cap)
		return at;
	if (n > cap - at)
		n = cap - at;
	memcpy(buf + at, s, n);
	return at + n;
}

static size_t putf_u(char *buf, size_t at, size_t cap, uint32_t v)
{
	char tmp[16];
	int n = snprintf(tmp, sizeof(tmp), "%u", v);

	return put(buf, at, cap, tmp, (size_t)n);
}

/* SVCB/HTTPS (RFC 9460 2.2): "priority target [alpn=..] [port=..] [ipv4hint=..]". */
static size_t render_svcb(const uint8_t *msg, uint32_t len, uint32_t off, uint32_t end, char *buf,
			  size_t cap)
{
	struct wire w = wire_init(msg + off, end - off);
	char name[DNS_NAME_MAX];
	uint32_t noff = off + 2;
	size_t at = putf_u(buf, 0, cap, wire_u16be(&w));
	int nl;

	if (w.bad)
		return 0;
	nl = dns_name(msg, end < len ? end : len, &noff, name, sizeof(name));
	if (nl < 0)
		return 0;
	at = put(buf, at, cap, " ", 1);
	at = put(buf, at, cap, name, (size_t)nl);
	w = wire_init(msg + noff, end > noff ? end - noff : 0);
	while (wire_left(&w) >= 4) {
		uint16_t key = wire_u16be(&w), vlen = wire_u16be(&w);
		struct wire v;
		const uint8_t *val = wire_bytes(&w, vlen);

		if (!val)
			break;
		v = wire_init(val, vlen);
		if (key == 1) { /* alpn: length-prefixed ids */
			at = put(buf, at, cap, " alpn=", 6);
			for (int first = 1; wire_left(&v) > 0; first = 0) {
				uint8_t l = wire_u8(&v);
				const uint8_t *id = wire_bytes(&v, l);

				if (!id)
					break;
				if (!first)
					at = put(buf, at, cap, ",", 1);
				at = put(buf, at, cap, (const char *)id, l);
			}
		} else if (key == 3 && vlen == 2) {
			at = put(buf, at, cap, " port=", 6);
			at = putf_u(buf, at, cap, wire_u16be(&v));
		} else if (key == 4) {
			at = put(buf, at, cap, " ipv4hint=", 10);
			for (int first = 1; wire_left(&v) >= 4; first = 0) {
				char ip[INET_ADDRSTRLEN];

				inet_ntop(AF_INET, wire_bytes(&v, 4), ip, sizeof(ip));
				if (!first)
					at = put(buf, at, cap, ",", 1);
				at = put(buf, at, cap, ip, strlen(ip));
			}
		}
	}
	return at;
}

/* One resource record's data as text (RFC 1035 3.3, RFC 3596, RFC 2782, RFC 9460). */
static size_t render_rdata(const uint8_t *msg, uint32_t len, uint16_t type, uint32_t off,
			   uint16_t rdlen, char *buf, size_t cap)
{
	uint32_t end = off + rdlen, o = off;
	struct wire w = wire_init(msg + off, rdlen);
	char name[DNS_NAME_MAX];
	size_t at = 0;
	int nl;

	switch (type) {
	case 1: /* A */
		if (rdlen != 4)
			return 0;
		inet_ntop(AF_INET, msg + off, buf, (socklen_t)cap);
		return strlen(buf);
	case 28: /* AAAA */
		if (rdlen != 16)
			return 0;
		inet_ntop(AF_INET6, msg + off, buf, (socklen_t)cap);
		return strlen(buf);
	case 2:	 /* NS */
	case 5:	 /* CNAME */
	case 12: /* PTR */
	case 39: /* DNAME */
		nl = dns_name(msg, len, &o, name, sizeof(name));
		return nl < 0 ? 0 : put(buf, 0, cap, name, (size_t)nl);
	case 15: /* MX: preference exchange */
		at = putf_u(buf, 0, cap, wire_u16be(&w));
		o = off + 2;
		nl = dns_name(msg, len, &o, name, sizeof(name));
		if (w.bad || nl < 0)
			return 0;
		at = put(buf, at, cap, " ", 1);
		return put(buf, at, cap, name, (size_t)nl);
	case 33: { /* SRV: priority weight port target */
		uint16_t prio = wire_u16be(&w), weight = wire_u16be(&w), port = wire_u16be(&w);

		o = off + 6;
		nl = dns_name(msg, len, &o, name, sizeof(name));
		if (w.bad || nl < 0)
			return 0;
		at = putf_u(buf, 0, cap, prio);
		at = put(buf, at, cap, " ", 1);
		at = putf_u(buf, at, cap, weight);
		at = put(buf, at, cap, " ", 1);
		at = putf_u(buf, at, cap, port);
		at = put(buf, at, cap, " ", 1);
		return put(buf, at, cap, name, (size_t)nl);
	}
	case 6: { /* SOA: mname rname serial refresh retry expire minimum */
		char rname[DNS_NAME_MAX];
		int rl;

		nl = dns_name(msg, len, &o, name, sizeof(name));
		if (nl < 0)
			return 0;
		rl = dns_name(msg, len, &o, rname, sizeof(rname));
		if (rl < 0 || o + 20 > end)
			return 0;
		w = wire_init(msg + o, 20);
		at = put(buf, 0, cap, name, (size_t)nl);
		at = put(buf, at, cap, " ", 1);
		at = put(buf, at, cap, rname, (size_t)rl);
		for (int i = 0; i < 5; i++) {
			at = put(buf, at, cap, " ", 1);
			at = putf_u(buf, at, cap, wire_u32be(&w));
		}
		return at;
	}
	case 16: /* TXT: character-strings, joined by spaces */
		while (wire_left(&w) > 0) {
			uint8_t l = wire_u8(&w);
			const uint8_t *s = wire_bytes(&w, l);

			if (!s)
				return at;
			if (at)
				at = put(buf, at, cap, " ", 1);
			at = put(buf, at, cap, (const char *)s, l);
		}
		return at;
	case 64: /* SVCB */
	case 65: /* HTTPS */
		return render_svcb(msg, len, off, end, buf, cap);
	default:
		return 0; /* listed by type only */
	}
}

/* ---- messages ---- */

struct dns_header {
	uint16_t id, flags, qd, an, ns, ar;
};

static bool header_read(const uint8_t *m, uint32_t len, struct dns_header *h)
{
	struct wire w = wire_init(m, len);

	h->id = wire_u16be(&w);
	h->flags = wire_u16be(&w);
	h->qd = wire_u16be(&w);
	h->an = wire_u16be(&w);
	h->ns = wire_u16be(&w);
	h->ar = wire_u16be(&w);
	return !w.bad;
}

static void flags_text(uint16_t f, char *buf, size_t cap)
{
	static const struct {
		uint16_t bit;
		const char *name;
	} bits[] = {{0x8000, "qr"}, {0x0400, "aa"}, {0x0200, "tc"}, {0x0100, "rd"},
		    {0x0080, "ra"}, {0x0020, "ad"}, {0x0010, "cd"}};
	size_t at = 0;

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (f & bits[i].bit) {
			if (at)
				at = put(buf, at, cap - 1, " ", 1);
			at = put(buf, at, cap - 1, bits[i].name, strlen(bits[i].name));
		}
	buf[at] = '\0';
}

static void record_question(struct query_record *rec, const struct dns_header *h, const char *qname,
			    int qlen, uint16_t qtype)
{
	char tbuf[16];
	unsigned opcode = (h->flags >> 11) & 15;

	if (qlen >= 0)
		record_set_str(rec, RS_QUERY, qname, (size_t)qlen);
	if (qlen >= 0)
		record_set_cstr(rec, RS_QTYPE, type_name(qtype, tbuf, sizeof(tbuf)));
	record_set_cstr(rec, RS_COMMAND, opcode < 7 ? dns_opcodes[opcode] : "OPCODE");
}

static struct dns_pending *pending_find(struct dns_state *st, uint16_t id)
{
	for (int i = 0; i < DNS_PENDING; i++)
		if (st->pend[i].used && st->pend[i].id == id)
			return &st->pend[i];
	return NULL;
}

static void dns_query(struct parse_ctx *ctx, struct dns_state *st, const struct dns_header *h,
		      const char *qname, int qlen, uint16_t qtype, uint32_t bytes)
{
	struct query_record *rec = record_begin(ctx);
	struct dns_pending *slot = NULL;

	record_question(rec, h, qname, qlen, qtype);
	record_add_bytes(rec, DIR_REQUEST, bytes);
	if (!rec)
		return;
	for (int i = 0; i < DNS_PENDING && !slot; i++)
		if (!st->pend[i].used)
			slot = &st->pend[i];
	if (!slot) { /* a full table: the oldest-placed query is given up on */
		slot = &st->pend[st->next];
		st->next = (uint8_t)((st->next + 1) % DNS_PENDING);
		record_finish(ctx, slot->rec, RECORD_INCOMPLETE);
	}
	*slot = (struct dns_pending){.rec = rec, .id = h->id, .qtype = qtype, .used = true};
}

/*
 * A PTR answer for a reverse name (RFC 1035 3.5 in-addr.arpa, RFC 3596 2.5 ip6.arpa) is a
 * name for that address too: the cache learns it the other way round.
 */
static void ptr_cache(struct parse_ctx *ctx, const char *qname, int qlen, const uint8_t *m,
		      uint32_t len, uint32_t off, uint32_t ttl, uint64_t now)
{
	static const char v4[] = ".in-addr.arpa", v6[] = ".ip6.arpa";
	uint8_t addr[16] = {0};
	char target[DNS_NAME_MAX];
	uint16_t family = 0;
	int tl;

	if (qlen > (int)sizeof(v4) - 1 && strcmp(qname + qlen - (int)(sizeof(v4) - 1), v4) == 0) {
		unsigned a[4];
		int used = 0;

		if (sscanf(qname, "%3u.%3u.%3u.%3u%n", &a[3], &a[2], &a[1], &a[0], &used) != 4 ||
		    used != qlen - (int)(sizeof(v4) - 1) || a[0] > 255 || a[1] > 255 ||
		    a[2] > 255 || a[3] > 255)
			return;
		for (int i = 0; i < 4; i++)
			addr[i] = (uint8_t)a[i];
		family = AF_INET;
	} else if (qlen == 64 + (int)sizeof(v6) - 1 && strcmp(qname + 64, v6) == 0) {
		/* 32 nibbles, least significant first: "b.a.9.8. ... .ip6.arpa" */
		for (int i = 0; i < 32; i++) {
			char c = qname[2 * i];
			int v = c >= '0' && c <= '9' ? c - '0'
						     : (c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1);

			if (v < 0 || qname[2 * i + 1] != '.')
				return;
			addr[15 - i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
		}
		family = AF_INET6;
	} else {
		return;
	}
	tl = dns_name(m, len, &off, target, sizeof(target));
	if (tl > 0 && dns_cache_insert(family, addr, target, (size_t)tl, ttl, now) < 0)
		parse_count(ctx, DNS_CACHE_FULL);
}

static void dns_response(struct parse_ctx *ctx, struct dns_state *st, const uint8_t *m,
			 uint32_t len, const struct dns_header *h, uint32_t off, const char *qname,
			 int qlen, uint16_t qtype, uint32_t bytes)
{
	struct dns_pending *p = pending_find(st, h->id);
	struct query_record *rec;
	unsigned rcode = h->flags & 15;
	char fl[40], text[DNS_RDATA_TEXT];
	uint64_t now = parse_now(ctx);

	if (p) {
		rec = p->rec;
		p->used = false;
	} else {
		parse_count(ctx, DNS_UNMATCHED);
		rec = record_begin(ctx);
		record_question(rec, h, qname, qlen, qtype);
	}
	record_add_bytes(rec, DIR_RESPONSE, bytes);
	record_set_cstr(rec, RS_RCODE, rcode < 11 ? dns_rcodes[rcode] : "RCODE");
	flags_text(h->flags, fl, sizeof(fl));
	record_set_cstr(rec, RS_DNS_FLAGS, fl);
	for (uint32_t i = 0; i < h->an && i < 256; i++) {
		char name[DNS_NAME_MAX];
		struct wire w;
		uint16_t type, rdlen;
		uint32_t ttl;
		size_t n;

		if (dns_name(m, len, &off, name, sizeof(name)) < 0) {
			parse_count(ctx, DNS_MALFORMED);
			break;
		}
		w = wire_init(m + off, len - off);
		type = wire_u16be(&w);
		wire_u16be(&w); /* class */
		ttl = wire_u32be(&w);
		rdlen = wire_u16be(&w);
		if (w.bad || off + 10 + rdlen > len) {
			parse_count(ctx, DNS_MALFORMED);
			break;
		}
		off += 10;
		if ((type == 1 && rdlen == 4) || (type == 28 && rdlen == 16)) {
			/* the name the client asked for, not the end of a CNAME chain */
			if (qlen > 0 && dns_cache_insert(type == 1 ? AF_INET : AF_INET6, m + off,
							 qname, (size_t)qlen, ttl, now) < 0)
				parse_count(ctx, DNS_CACHE_FULL);
		}
		if (type == 12)
			ptr_cache(ctx, qname, qlen, m, len, off, ttl, now);
		if (i < DNS_ANSWERS_MAX && type != 41) {
			n = render_rdata(m, len, type, off, rdlen, text, sizeof(text));
			if (n)
				record_list_add(rec, RL_ANSWERS, text, n);
			else
				record_list_add(rec, RL_ANSWERS,
						type_name(type, text, sizeof(text)),
						strlen(type_name(type, text, sizeof(text))));
		}
		off += rdlen;
	}
	if (rcode) {
		record_set_cstr(rec, RS_ERROR_CODE, rcode < 11 ? dns_rcodes[rcode] : "RCODE");
		record_finish(ctx, rec, RECORD_ERROR);
	} else {
		record_finish(ctx, rec, RECORD_OK);
	}
}

/* One whole DNS message (without a TCP length prefix). */
static void dns_message(struct parse_ctx *ctx, struct dns_state *st, const uint8_t *m, uint32_t len,
			uint32_t bytes)
{
	struct dns_header h;
	char qname[DNS_NAME_MAX];
	int qlen = -1;
	uint16_t qtype = 0;
	uint32_t off = DNS_HEADER;

	if (!header_read(m, len, &h)) {
		parse_count(ctx, DNS_MALFORMED);
		return;
	}
	if (h.qd >= 1) {
		struct wire w;

		qlen = dns_name(m, len, &off, qname, sizeof(qname));
		w = wire_init(m + (off < len ? off : len), off < len ? len - off : 0);
		qtype = wire_u16be(&w);
		wire_u16be(&w); /* class */
		if (qlen < 0 || w.bad) {
			parse_count(ctx, DNS_MALFORMED);
			return;
		}
		off += 4;
		/* further questions (never seen in practice, RFC 9619) are skipped */
		for (uint16_t i = 1; i < h.qd && i < 16; i++) {
			char skip[DNS_NAME_MAX];

			if (dns_name(m, len, &off, skip, sizeof(skip)) < 0 || off + 4 > len) {
				parse_count(ctx, DNS_MALFORMED);
				return;
			}
			off += 4;
		}
	}
	if (h.flags & 0x8000)
		dns_response(ctx, st, m, len, &h, off, qname, qlen, qtype, bytes);
	else
		dns_query(ctx, st, &h, qname, qlen, qtype, bytes);
}

/* Whether m looks like a DNS header with one question (the transport test). */
static bool header_plausible(const uint8_t *m, uint32_t len)
{
	struct dns_header h;

	if (!header_read(m, len, &h))
		return false;
	return h.qd == 1 && h.an < 512 && h.ns < 512 && h.ar < 512 && ((h.flags >> 11) & 15) < 7;
}

static struct parse_result result(enum parse_status s, uint32_t consumed, uint32_t needed)
{
	return (struct parse_result){s, consumed, needed};
}

static struct parse_result dns_on_data(struct parse_ctx *ctx, void *state, enum dir dir,
				       const uint8_t *p, uint32_t len)
{
	struct dns_state *st = state;
	uint32_t mlen;

	if (st->skip[dir]) {
		uint32_t n = len < st->skip[dir] ? len : st->skip[dir];

		st->skip[dir] -= n;
		return result(PARSE_OK, n, 0);
	}
	if (st->transport == DNS_UNKNOWN) {
		if (len < DNS_HEADER + 2)
			return result(PARSE_MORE, 0, DNS_HEADER + 2);
		mlen = (uint32_t)p[0] << 8 | p[1];
		/* TCP: the length prefix, then a header whose question count is 1 */
		if (mlen >= DNS_HEADER && header_plausible(p + 2, len - 2) &&
		    (mlen == len - 2 || !header_plausible(p, len)))
			st->transport = DNS_TCP;
		else
			st->transport = DNS_UDP;
	}
	if (st->transport == DNS_UDP) {
		dns_message(ctx, st, p, len, len);
		return result(PARSE_OK, len, 0);
	}
	/* RFC 1035 4.2.2: two-byte length, then the message */
	if (len < 2)
		return result(PARSE_MORE, 0, 2);
	mlen = (uint32_t)p[0] << 8 | p[1];
	if (mlen + 2 > len) {
		if (mlen + 2 <= parse_max_message(ctx))
			return result(PARSE_MORE, 0, mlen + 2);
		parse_count(ctx, DNS_OVERSIZE);
		st->skip[dir] = mlen + 2 - len;
		return result(PARSE_OK, len, 0);
	}
	dns_message(ctx, st, p + 2, mlen, mlen + 2);
	return result(PARSE_OK, mlen + 2, 0);
}

static void dns_on_gap(struct parse_ctx *ctx, void *state, enum dir dir, uint64_t missing)
{
	struct dns_state *st = state;

	if (st->transport != DNS_TCP)
		return; /* a lost datagram loses one message, the next one is whole */
	if (st->skip[dir] && missing < st->skip[dir]) {
		st->skip[dir] -= (uint32_t)missing;
		return;
	}
	parse_give_up(ctx); /* no marker to find the next length prefix by */
}

/* ---- detection ---- */

/* Whether m[0..len) parses as a message with one question; a full name is required. */
static bool message_plausible(const uint8_t *m, uint32_t len)
{
	char name[DNS_NAME_MAX];
	uint32_t off = DNS_HEADER;

	if (!header_plausible(m, len))
		return false;
	if (dns_name(m, len, &off, name, sizeof(name)) < 0 || off + 4 > len)
		return false;
	/* class IN, CH or ANY */
	return m[off + 2] == 0 && (m[off + 3] == 1 || m[off + 3] == 3 || m[off + 3] == 255);
}

static int dns_detect(const uint8_t *p, uint32_t len, enum dir dir)
{
	uint32_t mlen;

	(void)dir;
	if (len < DNS_HEADER + 2) {
		/* only a TCP length prefix (a small big-endian number) is worth waiting for: a
		 * datagram this short is no DNS, and text protocols start with a printable byte */
		return p[0] == 0 && (len < 2 || p[1] >= DNS_HEADER + 5) ? DETECT_NEED_MORE
									: DETECT_NOT_MINE;
	}
	mlen = (uint32_t)p[0] << 8 | p[1];
	if (mlen >= DNS_HEADER + 5 && mlen + 2 <= len && message_plausible(p + 2, mlen))
		return 70; /* TCP, a whole length-prefixed message */
	if (message_plausible(p, len))
		return 60; /* a datagram */
	if (mlen >= DNS_HEADER + 5 && mlen + 2 > len && len < 512 &&
	    header_plausible(p + 2, len - 2))
		return DETECT_NEED_MORE; /* maybe TCP, cut */
	return DETECT_NOT_MINE;
}

const struct parser dns_parser = {
	.name = "dns",
	.flags = 0,
	.ports = dns_ports,
	.state_size = sizeof(struct dns_state),
	.detect = dns_detect,
	.on_data = dns_on_data,
	.on_gap = dns_on_gap,
	.on_close = NULL,
	.counter_defs = dns_counter_defs,
	.counter_count = DNS_COUNTERS,
};
