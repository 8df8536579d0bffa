/*
 * HTTP/1.0 and HTTP/1.1 (RFC 9112 message syntax, RFC 9110 semantics): one record per
 * request with its method, target, Host, User-Agent, the response's status code and
 * content type, sizes and latency.
 *
 * Each direction is a resumable state machine: a message head (start line and header
 * fields) is parsed once it is whole (the engine buffers it); a body is framed by
 * Content-Length, by chunk sizes (RFC 9112 7.1) or by the close, and handed to the PII
 * engine whole, up to HTTP_BODY_SCAN_MAX bytes, in windows cut after the last value end
 * ("\n,&}]") so that no value is cut in two: the bytes after the cut stay in the engine's
 * buffer and lead the next window (a window never crosses chunk framing). A CSV export
 * (its first window starts with a header line, pii_csv_header) is cut at line ends only,
 * and its header line is kept so that the rows of later windows are judged under their
 * columns as the first window's are (record_body_rows). Bodies in gzip
 * or deflate (Content-Encoding, RFC 9110 8.4.1) are inflated with zlib, bodies in br
 * (RFC 7932) decoded with libbrotli and in zstd (RFC 8878) with libzstd, into a
 * per-direction text window made on first need and kept for the connection, and scanned
 * the same way; so are bodies delimited by the close, whose last bytes come with no call
 * of their own. Bodies cut by the budget, that fail to decode or are in a coding not
 * decoded here are counted. Responses pair with requests in
 * order (RFC 9112 9.3.2 pipelining): a small ring remembers, per request still waiting,
 * what decides the response's framing (HEAD, CONNECT, an Upgrade offer) and whether it
 * got a record. Interim 1xx responses (100-continue, 103) do not complete a request;
 * 101 and a successful CONNECT turn the connection into an opaque tunnel, as does the
 * HTTP/2 connection preface (RFC 9113 3.4): those are marked in `upgrade` and the rest
 * of the connection is skipped (HTTP/2 has its own parser to come).
 *
 * The Authorization header is recorded as its scheme only ("basic", "bearer"), never
 * its credentials, and is not handed to the PII engine.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <brotli/decode.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "counters.h"
#include "parser.h"

#define HTTP_PENDING	 64    /* requests awaiting a response (engine PENDING_MAX) */
#define HTTP_LINE_MAX	 4096  /* chunk-size and trailer lines */
#define HTTP_SEEK_LINE	 8192  /* a line longer than this cannot be a start line */
#define HTTP_BODY_WINDOW 16384 /* body bytes per PII scan (at most parsers.buffer_bytes) */
/* A CSV body's header line kept for its later windows: 64 columns of 7 bytes. A longer
 * one is not kept (http_body_csv_header_long_total). */
#define HTTP_CSV_HEADER_MAX 512
/*
 * Body bytes per message handed to the PII engine (inflated bytes for a compressed body).
 * PII scanning runs at about 100 MB/s per core on text, so a MiB costs a worker ~10 ms:
 * past that a bulk download (an export, a backup, a media file) would stall every other
 * connection of the worker, and what it holds is rows of the types already found. Bodies
 * cut here are counted (http_body_scan_capped_total).
 */
#define HTTP_BODY_SCAN_MAX (1u << 20)
/* A zip bomb: past the first 64 KiB inflated, more than 250 bytes out per byte in. Text
 * that compresses that well is runs of one byte, with no room for distinct values. Brotli
 * and zstd reach that ratio too (one byte repeated), and are stopped the same way. */
#define HTTP_INFLATE_RATIO	250
#define HTTP_INFLATE_RATIO_FROM 65536
/*
 * Decoders alive per worker thread, each about 56 KiB (text window, zlib's state and its
 * 32 KiB history); a compressed body beyond them is counted, not scanned. A br or zstd
 * body also needs its history window, as large as the stream says: zstd's is limited to
 * 8 MiB (RFC 9659 3: what an HTTP zstd decoder must accept), brotli's (up to 16 MiB) to
 * the same, so one direction decoding holds at most about 9 MiB; a stream asking for more
 * is counted as undecoded. Brotli's state is freed at each message's end (it has no
 * reset), and zstd's when its window grew past HTTP_DEC_KEEP_BYTES.
 */
#define HTTP_DECODERS_MAX    128
#define HTTP_ZSTD_WINDOW_LOG 23		/* 8 MiB */
#define HTTP_BR_MEM_MAX	     (9u << 20) /* a 2^23-byte ring buffer and the decoder's tables */
#define HTTP_DEC_KEEP_BYTES  (1u << 20) /* a zstd state kept between messages */

enum http_counter {
	HTTP_MALFORMED,
	HTTP_OVERSIZE_HEAD,
	HTTP_RESYNC,
	HTTP_UNMATCHED,
	HTTP_UPGRADED,
	HTTP_BODY_CAPPED,
	HTTP_BODY_DECODE_ERRORS,
	HTTP_BODY_UNDECODED,
	HTTP_BODY_CSV_HEADER_LONG,
	HTTP_COUNTERS,
};

static const struct counter_def http_counter_defs[HTTP_COUNTERS] = {
	[HTTP_MALFORMED] = {"http_malformed_total",
			    "Start lines or chunk sizes that are not HTTP/1.x (resynchronised)"},
	[HTTP_OVERSIZE_HEAD] =
		{"http_oversize_head_total",
		 "Message heads longer than parsers.buffer_bytes (connection given up)"},
	[HTTP_RESYNC] = {"http_resync_total",
			 "Times a direction searched for the next message after a gap or junk"},
	[HTTP_UNMATCHED] = {"http_unmatched_responses_total",
			    "Responses with no request waiting for them"},
	[HTTP_UPGRADED] =
		{"http_upgraded_total",
		 "Connections switched to another protocol (101, CONNECT, HTTP/2 preface)"},
	[HTTP_BODY_CAPPED] = {"http_body_scan_capped_total",
			      "Message bodies scanned for PII only in part: past 1 MiB (decoded), "
			      "or decoding at more than 250:1"},
	[HTTP_BODY_DECODE_ERRORS] =
		{"http_body_decode_errors_total",
		 "gzip, deflate, br or zstd bodies that did not decode (corrupt "
		 "or cut short): scanned no further"},
	[HTTP_BODY_UNDECODED] =
		{"http_body_undecoded_total",
		 "Bodies not scanned for PII: a content coding not decoded here (compress, "
		 "several stacked), a br or zstd window over 8 MiB, or no decoder to spare "
		 "on the worker"},
	[HTTP_BODY_CSV_HEADER_LONG] =
		{"http_body_csv_header_long_total",
		 "CSV bodies whose header line is over 512 bytes: the windows after the first "
		 "are scanned without column names"},
};

enum http_phase {
	HP_HEAD = 0,   /* a start line and header fields, up to the empty line */
	HP_BODY_LEN,   /* `remaining` body bytes by Content-Length */
	HP_CHUNK_SIZE, /* RFC 9112 7.1: chunk-size [; ext] CRLF */
	HP_CHUNK_DATA, /* `remaining` chunk bytes */
	HP_CHUNK_CRLF, /* the CRLF after chunk data */
	HP_TRAILER,    /* trailer fields after the last chunk, up to the empty line */
	HP_BODY_CLOSE, /* a response delimited by the connection's close (RFC 9112 6.3 p8) */
	HP_OPAQUE,     /* tunnel, upgraded protocol or HTTP/2: skipped */
	HP_SEEK,       /* after a gap or junk: looking for the next start line */
};

/* What a waiting request tells about its response (the pairing ring). */
enum http_req_flag {
	HRF_RECORD = 1u << 0,  /* a record was allocated: it is record_oldest() */
	HRF_HEAD = 1u << 1,    /* HEAD: the response has no body (RFC 9110 9.3.2) */
	HRF_CONNECT = 1u << 2, /* CONNECT: a 2xx opens a tunnel (RFC 9110 9.3.6) */
	HRF_UPGRADE = 1u << 3, /* offered Upgrade: a 101 switches protocols (RFC 9110 7.8) */
};

/* Content codings of a body (RFC 9110 8.4.1). */
enum http_coding {
	HC_IDENTITY,
	HC_GZIP,    /* gzip, x-gzip */
	HC_DEFLATE, /* the zlib format (RFC 1950); some servers send raw deflate (RFC 1951) */
	HC_BR,	    /* brotli (RFC 7932) */
	HC_ZSTD,    /* Zstandard (RFC 8878, RFC 9659) */
	HC_OTHER,   /* compress, unknown, or more than one coding: not decoded */
};

/* How the body of the current message reaches the PII engine. */
enum http_scan {
	HS_OFF,	    /* not at all (no record, budget spent, coding not decoded) */
	HS_WINDOW,  /* in place, a window at a time; the engine keeps a cut value's head */
	HS_PIECE,   /* in place, as it comes (a close-delimited body without a decoder) */
	HS_DECODER, /* through the decoder's text window: inflated, or close-delimited */
};

/*
 * A body decoder: the libraries' streams and the text they produced that was not scanned
 * yet. Made on the first body that needs one and kept for the connection; each library's
 * state is made on the first body in its coding. zlib's and zstd's are reset per message
 * (inflateReset2, ZSTD_DCtx_reset); brotli's has no reset and is made per message and
 * destroyed at its end (dec_end_message). All freed by http_state_free. Owned by the
 * worker parsing the connection.
 */
struct http_dec {
	z_stream zs;
	bool zs_ready;		/* inflateInit2 done */
	bool br_refused;	/* br_alloc refused: the stream's window is over the limit */
	BrotliDecoderState *br; /* NULL but during a br body */
	ZSTD_DStream *zds;	/* NULL until a zstd body */
	size_t br_bytes;	/* what br holds, through br_alloc */
	uint64_t in_bytes;	/* compressed bytes of the message decoded (the bomb guard) */
	uint64_t out_bytes;	/* decoded bytes of the message (the bomb guard) */
	uint32_t have;		/* text bytes not scanned yet, from text[0] */
	uint8_t text[HTTP_BODY_WINDOW];
};

struct http_dir {
	uint8_t phase;	   /* enum http_phase */
	bool seek_midline; /* HP_SEEK: the next byte is not at a line start */
	bool upgrade_wait; /* request side: an Upgrade offer awaits its answer */
	uint8_t scan;	   /* enum http_scan of the current body */
	uint8_t coding;	   /* enum http_coding of the current body */
	bool dec_started;  /* the decoder has seen the body's first bytes */
	bool dec_done;	   /* the decoder takes no more input (stream end, error, budget) */
	bool dec_clean;	   /* zstd: the last frame ended whole (another one may follow) */
	uint32_t scanned;  /* head bytes already searched for the empty line */
	uint32_t held;	   /* bytes the last call left to the engine's buffer (lost in a gap) */
	uint64_t remaining;
	uint32_t body_scanned; /* body (text) bytes handed to PII for the current message */
	struct http_dec *dec;  /* NULL until a body needs one */
	/*
	 * A CSV export's header line (pii_csv_header) from the current body's first window,
	 * for the windows after it: their rows have no header of their own. Reset by
	 * body_scan_begin; written and read by the worker parsing the connection only.
	 */
	bool csv_checked; /* the body's first window was looked at */
	bool csv;	  /* the body is CSV: windows are cut at line ends only */
	uint16_t csv_len; /* bytes in csv_header; 0: none kept */
	char csv_header[HTTP_CSV_HEADER_MAX];
};

struct http_state {
	struct http_dir d[2];
	uint8_t ring[HTTP_PENDING]; /* enum http_req_flag per waiting request, oldest first */
	uint8_t ring_head;
	uint8_t ring_count;
	/*
	 * The records of the request being received and of the response being received.
	 * Both are slots in the engine's pairing queue, valid until record_finish; whoever
	 * finishes one clears both pointers that may name it.
	 */
	struct query_record *req_rec;
	struct query_record *resp_rec;
	uint8_t resp_flags; /* ring flags of the request the current response answers */
};

static const uint16_t http_ports[] = {80, 8080, 8000, 8008, 8888, 3000, 5000, 9200, 0};

/* ---- small text helpers ---- */

static bool is_tchar(uint8_t c)
{
	/* RFC 9110 5.6.2 token characters */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static bool ieq(const uint8_t *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(p[i]) != (uint8_t)lit[i])
			return false;
	return true;
}

/* Whether the comma-separated list p[0..len) has token lit (case-insensitive). */
static bool list_has(const uint8_t *p, size_t len, const char *lit)
{
	size_t i = 0;

	while (i < len) {
		size_t s, e;

		while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
			i++;
		s = i;
		while (i < len && p[i] != ',')
			i++;
		e = i;
		while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
			e--;
		/* parameters (";q=1") are not part of the token */
		for (size_t k = s; k < e; k++)
			if (p[k] == ';') {
				e = k;
				break;
			}
		if (ieq(p + s, e - s, lit))
			return true;
	}
	return false;
}

/* The last element of a comma-separated list ("gzip, chunked" -> "chunked"). */
static bool list_last_is(const uint8_t *p, size_t len, const char *lit)
{
	size_t e = len, s;

	while (e > 0 && (p[e - 1] == ' ' || p[e - 1] == '\t'))
		e--;
	s = e;
	while (s > 0 && p[s - 1] != ',')
		s--;
	while (s < e && (p[s] == ' ' || p[s] == '\t'))
		s++;
	return ieq(p + s, e - s, lit);
}

/* Decimal Content-Length (RFC 9110 8.6); -1 when not a plain number. */
static int64_t parse_length(const uint8_t *p, size_t len)
{
	int64_t v = 0;

	if (len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Offset just past the empty line ending a head, searching from `from`; 0 when absent. */
static uint32_t head_end(const uint8_t *p, uint32_t len, uint32_t from)
{
	for (uint32_t i = from; i < len; i++) {
		const uint8_t *nl = memchr(p + i, '\n', len - i);

		if (!nl)
			return 0;
		i = (uint32_t)(nl - p);
		/* "\n\n" or "\n\r\n" (RFC 9112 2.2: a bare LF may end a line) */
		if (i + 1 < len && p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Adds the codings of a Content-Encoding or Transfer-Encoding list to cur (RFC 9110 8.4.1,
 * RFC 9112 7: "chunked" is framing, not a coding of the content). */
static uint8_t coding_add(uint8_t cur, const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t s, e;
		uint8_t c;

		while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
			i++;
		s = i;
		while (i < len && p[i] != ',' && p[i] != ';')
			i++;
		e = i;
		while (i < len && p[i] != ',') /* transfer-coding parameters */
			i++;
		while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
			e--;
		if (e == s || ieq(p + s, e - s, "identity") || ieq(p + s, e - s, "chunked"))
			continue;
		if (ieq(p + s, e - s, "gzip") || ieq(p + s, e - s, "x-gzip"))
			c = HC_GZIP;
		else if (ieq(p + s, e - s, "deflate"))
			c = HC_DEFLATE;
		else if (ieq(p + s, e - s, "br"))
			c = HC_BR;
		else if (ieq(p + s, e - s, "zstd"))
			c = HC_ZSTD;
		else
			c = HC_OTHER;
		/* Stacked codings ("gzip, br": br applied last) are not decoded: they would need
		 * one decoder feeding another, and servers do not send them; they stay counted in
		 * http_body_undecoded_total. */
		cur = cur == HC_IDENTITY ? c : HC_OTHER;
	}
	return cur;
}

/*
 * Offset just past the last byte of p[0..len) that ends a value ("\n,&}]"); 0 if none.
 * In a CSV body only a line end ends a row: a ',' inside it would leave the next window
 * with a row's tail.
 */
static uint32_t scan_cut(const uint8_t *p, uint32_t len, bool csv)
{
	if (csv) {
		const uint8_t *nl = memrchr(p, '\n', len);

		return nl ? (uint32_t)(nl - p) + 1 : 0;
	}
	for (uint32_t i = len; i > 0; i--) {
		uint8_t c = p[i - 1];

		if (c == '\n' || c == ',' || c == '&' || c == '}' || c == ']')
			return i;
	}
	return 0;
}

/* ---- the pairing ring ---- */

static void ring_push(struct http_state *st, uint8_t flags)
{
	if (st->ring_count == HTTP_PENDING)
		return; /* the engine refused a record past this too: pairing stays in order */
	st->ring[(st->ring_head + st->ring_count) % HTTP_PENDING] = flags;
	st->ring_count++;
}

static bool ring_pop(struct http_state *st, uint8_t *flags)
{
	if (!st->ring_count)
		return false;
	*flags = st->ring[st->ring_head];
	st->ring_head = (uint8_t)((st->ring_head + 1) % HTTP_PENDING);
	st->ring_count--;
	return true;
}

static void rec_finish(struct parse_ctx *ctx, struct http_state *st, struct query_record *rec,
		       enum record_status status)
{
	if (!rec)
		return;
	if (st->req_rec == rec)
		st->req_rec = NULL;
	if (st->resp_rec == rec)
		st->resp_rec = NULL;
	record_finish(ctx, rec, status);
}

/* Every waiting request is finished as incomplete (after a gap pairing is unknowable). */
static void finish_all_pending(struct parse_ctx *ctx, struct http_state *st)
{
	struct query_record *rec;

	while ((rec = record_oldest(ctx)) != NULL)
		rec_finish(ctx, st, rec, RECORD_INCOMPLETE);
	st->req_rec = st->resp_rec = NULL;
	st->ring_count = 0;
}

/* ---- heads ---- */

struct http_head {
	const uint8_t *line; /* start line without its line end */
	uint32_t line_len;
	int64_t content_length; /* -1 none */
	bool chunked;
	bool te_other; /* Transfer-Encoding without chunked last */
	bool conn_close;
	bool conn_upgrade;
	bool expect_continue;
	uint8_t coding; /* enum http_coding: Content-Encoding and Transfer-Encoding */
	const uint8_t *upgrade;
	size_t upgrade_len;
};

/*
 * Walks the header fields of a whole head (RFC 9112 5): framing fields into h, and each
 * field to the record (known fields) and the PII engine (values).
 */
static void head_fields(struct parse_ctx *ctx, struct query_record *rec, const uint8_t *p,
			uint32_t len, struct http_head *h, bool request)
{
	uint32_t i = 0;
	const uint8_t *nl = memchr(p, '\n', len);

	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	h->line = p;
	h->line_len = nl ? (uint32_t)(nl - p) : len;
	if (h->line_len && p[h->line_len - 1] == '\r')
		h->line_len--;
	i = nl ? (uint32_t)(nl - p) + 1 : len;
	while (i < len) {
		const uint8_t *l = p + i, *colon, *v;
		uint32_t ll, nlen;
		size_t vlen;

		nl = memchr(l, '\n', len - i);
		ll = nl ? (uint32_t)(nl - l) : len - i;
		i += ll + 1;
		if (ll && l[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			break;
		colon = memchr(l, ':', ll);
		if (!colon)
			continue; /* obs-fold or junk: ignored (RFC 9112 5.2 lets us reject it) */
		nlen = (uint32_t)(colon - l);
		v = colon + 1;
		vlen = ll - nlen - 1;
		while (vlen && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (ieq(l, nlen, "content-length")) {
			h->content_length = parse_length(v, vlen);
		} else if (ieq(l, nlen, "transfer-encoding")) {
			/* RFC 9112 6.1: chunked must be the final coding */
			if (list_last_is(v, vlen, "chunked"))
				h->chunked = true;
			else
				h->te_other = true;
			h->coding = coding_add(h->coding, v, vlen); /* "gzip, chunked" */
		} else if (ieq(l, nlen, "content-encoding")) {
			h->coding = coding_add(h->coding, v, vlen);
		} else if (ieq(l, nlen, "connection")) {
			h->conn_close |= list_has(v, vlen, "close");
			h->conn_upgrade |= list_has(v, vlen, "upgrade");
		} else if (ieq(l, nlen, "upgrade")) {
			h->upgrade = v;
			h->upgrade_len = vlen;
		} else if (ieq(l, nlen, "content-type")) {
			record_set_str(rec, RS_CONTENT_TYPE, v, vlen);
		} else if (request && ieq(l, nlen, "host")) {
			record_set_str(rec, RS_HOST, v, vlen);
		} else if (request && ieq(l, nlen, "user-agent")) {
			record_set_str(rec, RS_USER_AGENT, v, vlen);
		} else if (request && ieq(l, nlen, "expect")) {
			h->expect_continue = ieq(v, vlen, "100-continue");
		}
		if (ieq(l, nlen, "authorization") || ieq(l, nlen, "proxy-authorization")) {
			/* RFC 9110 11.4: credentials = auth-scheme [ token68 / params ]; only the
			 * scheme is kept, the credentials never leave this function */
			char scheme[24];
			size_t n = 0;

			while (n < vlen && n < sizeof(scheme) && is_tchar(v[n])) {
				scheme[n] = (char)lower(v[n]);
				n++;
			}
			if (request)
				record_set_str(rec, RS_AUTH, n ? scheme : "present", n ? n : 7);
			continue;
		}
		record_value(ctx, rec, VALUE_HEADER, (const char *)l, nlen, v, vlen);
	}
}

static void set_upgrade(struct query_record *rec, const uint8_t *v, size_t len)
{
	size_t n = 0;

	/* the first protocol offered/chosen: "websocket", "h2c" */
	while (n < len && v[n] != ',' && v[n] != ' ')
		n++;
	record_set_str(rec, RS_UPGRADE, v, n);
}

/* RFC 9112 3: method SP request-target SP HTTP-version. */
static bool parse_request_line(const uint8_t *l, uint32_t len, uint32_t *mlen, uint32_t *tstart,
			       uint32_t *tlen)
{
	uint32_t i = 0, t;

	while (i < len && is_tchar(l[i]))
		i++;
	if (i == 0 || i > 32 || i >= len || l[i] != ' ')
		return false;
	*mlen = i;
	t = ++i;
	while (i < len && l[i] != ' ')
		i++;
	if (i == t || i >= len)
		return false;
	*tstart = t;
	*tlen = i - t;
	i++;
	return len - i == 8 && memcmp(l + i, "HTTP/1.", 7) == 0 && l[i + 7] >= '0' &&
	       l[i + 7] <= '9';
}

/* RFC 9112 4: HTTP-version SP 3DIGIT SP [reason-phrase]; returns the code or -1. */
static int parse_status_line(const uint8_t *l, uint32_t len, const uint8_t **reason,
			     uint32_t *reason_len)
{
	int code;

	if (len < 12 || memcmp(l, "HTTP/1.", 7) != 0 || l[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (l[i] < '0' || l[i] > '9')
			return -1;
	if (len > 12 && l[12] != ' ')
		return -1;
	code = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	*reason = len > 13 ? l + 13 : l + len;
	*reason_len = len > 13 ? len - 13 : 0;
	return code;
}

static void record_target(struct parse_ctx *ctx, struct query_record *rec, const uint8_t *t,
			  uint32_t tlen)
{
	const uint8_t *q;

	/* absolute-form (RFC 9112 3.2.2): the authority is the host, the rest the path */
	if (tlen > 7 && (ieq(t, 7, "http://") || (tlen > 8 && ieq(t, 8, "https://")))) {
		uint32_t s = t[4] == ':' ? 7 : 8, e = s;

		while (e < tlen && t[e] != '/' && t[e] != '?')
			e++;
		record_set_str(rec, RS_HOST, t + s, e - s);
		t += e;
		tlen -= e;
		if (tlen == 0) {
			t = (const uint8_t *)"/";
			tlen = 1;
		}
	}
	record_set_str(rec, RS_PATH, t, tlen);
	q = memchr(t, '?', tlen);
	if (q) /* query string values are where PII in URLs sits */
		record_value(ctx, rec, VALUE_QUERY, NULL, 0, q + 1, tlen - (uint32_t)(q + 1 - t));
}

static struct parse_result result(enum parse_status s, uint32_t consumed, uint32_t needed)
{
	return (struct parse_result){s, consumed, needed};
}

/* ---- bodies: framing, decoding, windows for the PII engine ---- */

static struct query_record *dir_rec(const struct http_state *st, enum dir dir)
{
	return dir == DIR_REQUEST ? st->req_rec : st->resp_rec;
}

/* Body bytes per scan in place: the engine must be able to hold a whole window. */
static uint32_t scan_window(const struct parse_ctx *ctx)
{
	uint32_t max = parse_max_message(ctx);

	return max < HTTP_BODY_WINDOW ? max : HTTP_BODY_WINDOW;
}

/* Decoders alive on this thread (made and freed by the worker that owns the connection). */
static _Thread_local uint32_t http_decoders;

/*
 * brotli's allocations, counted per decoder: a stream whose window (up to 16 MiB, RFC 7932
 * 9.1) would take the decoder past HTTP_BR_MEM_MAX is refused, as zstd refuses one over
 * 2^HTTP_ZSTD_WINDOW_LOG. Each block is led by its size, in a max_align_t.
 */
static void *br_alloc(void *opaque, size_t size)
{
	struct http_dec *dec = opaque;
	max_align_t *m;

	if (size > HTTP_BR_MEM_MAX - dec->br_bytes) {
		dec->br_refused = true;
		return NULL;
	}
	m = malloc(sizeof(*m) + size);
	if (!m)
		return NULL;
	memcpy(m, &size, sizeof(size));
	dec->br_bytes += size;
	return m + 1;
}

static void br_free(void *opaque, void *address)
{
	struct http_dec *dec = opaque;
	max_align_t *m = address;
	size_t size;

	if (!m)
		return;
	m--;
	memcpy(&size, m, sizeof(size));
	dec->br_bytes -= size;
	free(m);
}

/* The message's decoding is over: brotli's state (and its ring buffer) goes, and zstd's
 * when a large window made it large; zlib's 44 KiB stay for the next message. */
static void dec_end_message(struct http_dec *dec)
{
	if (dec->br) {
		BrotliDecoderDestroyInstance(dec->br);
		dec->br = NULL;
	}
	if (dec->zds && ZSTD_sizeof_DStream(dec->zds) > HTTP_DEC_KEEP_BYTES) {
		ZSTD_freeDStream(dec->zds);
		dec->zds = NULL;
	}
}

/* The direction's decoder for a body in coding, made on first need, emptied; NULL when
 * none can be had. */
static struct http_dec *dec_get(struct http_dir *d, uint8_t coding)
{
	struct http_dec *dec = d->dec;

	if (!dec) {
		if (http_decoders >= HTTP_DECODERS_MAX)
			return NULL;
		dec = malloc(sizeof(*dec));
		if (!dec)
			return NULL;
		memset(&dec->zs, 0, sizeof(dec->zs)); /* zalloc, zfree, opaque: zlib's own */
		dec->zs_ready = false;
		dec->br = NULL;
		dec->zds = NULL;
		dec->br_bytes = 0;
		d->dec = dec;
		http_decoders++;
	}
	switch (coding) {
	case HC_GZIP:
	case HC_DEFLATE:
		/* 15 + 32: the largest window, a gzip or zlib header recognised by itself */
		if (!dec->zs_ready) {
			if (inflateInit2(&dec->zs, 15 + 32) != Z_OK)
				return NULL;
			dec->zs_ready = true;
		}
		break;
	case HC_BR:
		/* no reset in libbrotli: a new instance for each message (one left by a
		 * message that ended in a gap goes first) */
		dec_end_message(dec);
		dec->br_refused = false;
		dec->br = BrotliDecoderCreateInstance(br_alloc, br_free, dec);
		if (!dec->br)
			return NULL;
		break;
	case HC_ZSTD:
		if (!dec->zds) {
			dec->zds = ZSTD_createDStream();
			if (!dec->zds)
				return NULL;
			if (ZSTD_isError(ZSTD_DCtx_setParameter(dec->zds, ZSTD_d_windowLogMax,
								HTTP_ZSTD_WINDOW_LOG))) {
				ZSTD_freeDStream(dec->zds);
				dec->zds = NULL;
				return NULL;
			}
		}
		break;
	default:
		break;
	}
	dec->have = 0;
	return dec;
}

static void http_state_free(void *state)
{
	struct http_state *st = state;

	for (int i = 0; i < 2; i++) {
		struct http_dec *dec = st->d[i].dec;

		if (!dec)
			continue;
		if (dec->zs_ready)
			inflateEnd(&dec->zs);
		if (dec->br)
			BrotliDecoderDestroyInstance(dec->br);
		if (dec->zds)
			ZSTD_freeDStream(dec->zds);
		free(dec);
		st->d[i].dec = NULL;
		http_decoders--;
	}
}

/*
 * The body's first window p[0..len) (before it is cut): is the body a CSV export? Its
 * header line is kept for the windows to come. A header split by chunk framing (a first
 * chunk that ends inside the header line) is not recognised: the body is scanned as text.
 */
static void csv_check(struct parse_ctx *ctx, struct http_dir *d, const uint8_t *p, uint32_t len)
{
	size_t n = parse_csv_header(ctx, p, len);

	d->csv_checked = true;
	d->csv = n > 0;
	if (n > sizeof(d->csv_header)) {
		parse_count(ctx, HTTP_BODY_CSV_HEADER_LONG);
		return;
	}
	memcpy(d->csv_header, p, n);
	d->csv_len = (uint16_t)n;
}

/*
 * A window of body text to the PII engine: the rows of a CSV body under the header kept
 * from its first window (whose own header line is not scanned again), any other body as
 * one value.
 */
static void body_record(struct parse_ctx *ctx, const struct http_dir *d, struct query_record *rec,
			const uint8_t *p, uint32_t n, bool first)
{
	uint32_t skip = first ? d->csv_len : 0;

	if (!d->csv_len) {
		record_value(ctx, rec, VALUE_BODY, NULL, 0, p, n);
		return;
	}
	if (skip > n)
		skip = n;
	record_body_rows(ctx, rec, d->csv_header, d->csv_len, p + skip, n - skip);
}

/*
 * Hands the decoder's text to the PII engine: all of it when the body ended, else, once
 * the window is full, up to the last value end; the rest leads the next window. A full
 * window without any value end is one huge token and is scanned whole.
 */
static void dec_scan(struct parse_ctx *ctx, struct http_dir *d, struct query_record *rec, bool all)
{
	struct http_dec *dec = d->dec;
	uint32_t n = dec->have;
	bool first = !d->csv_checked;

	if (!all && dec->have < sizeof(dec->text))
		return;
	if (first && rec && dec->have)
		csv_check(ctx, d, dec->text, dec->have);
	if (!all) {
		n = scan_cut(dec->text, dec->have, d->csv);
		if (!n)
			n = dec->have;
	}
	body_record(ctx, d, rec, dec->text, n, first);
	memmove(dec->text, dec->text + n, dec->have - n);
	dec->have -= n;
}

enum dec_status {
	DEC_OK,	     /* more input wanted, or more output to come */
	DEC_END,     /* the stream (zstd: a frame) ended */
	DEC_ERROR,   /* corrupt */
	DEC_REFUSED, /* a window over the limit */
};

/*
 * One decoding step of the body's library: from in[0..*in_len) into out[0..*out_len);
 * on return *in_len is what was consumed and *out_len what was produced.
 */
static enum dec_status dec_step(struct http_dec *dec, uint8_t coding, const uint8_t *in,
				size_t *in_len, uint8_t *out, size_t *out_len)
{
	switch (coding) {
	case HC_BR: {
		size_t avail_in = *in_len, avail_out = *out_len;
		uint8_t *next_out = out;
		BrotliDecoderResult r;

		r = BrotliDecoderDecompressStream(dec->br, &avail_in, &in, &avail_out, &next_out,
						  NULL);
		*in_len -= avail_in;
		*out_len -= avail_out;
		if (r == BROTLI_DECODER_RESULT_SUCCESS)
			return DEC_END;
		if (r == BROTLI_DECODER_RESULT_ERROR)
			return dec->br_refused ? DEC_REFUSED : DEC_ERROR;
		return DEC_OK;
	}
	case HC_ZSTD: {
		ZSTD_inBuffer ib = {in, *in_len, 0};
		ZSTD_outBuffer ob = {out, *out_len, 0};
		size_t r = ZSTD_decompressStream(dec->zds, &ob, &ib);

		*in_len = ib.pos;
		*out_len = ob.pos;
		if (ZSTD_isError(r))
			return ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge
				       ? DEC_REFUSED
				       : DEC_ERROR;
		return r == 0 ? DEC_END : DEC_OK;
	}
	default: { /* HC_GZIP, HC_DEFLATE */
		z_stream *zs = &dec->zs;
		int rc;

		zs->next_in = (Bytef *)(uintptr_t)in;
		zs->avail_in = (uInt)*in_len;
		zs->next_out = out;
		zs->avail_out = (uInt)*out_len;
		rc = inflate(zs, Z_NO_FLUSH);
		*in_len -= zs->avail_in;
		*out_len -= zs->avail_out;
		zs->next_in = NULL; /* the bytes are the engine's: no pointer into them is kept */
		zs->avail_in = 0;
		if (rc == Z_STREAM_END)
			return DEC_END;
		/* Z_BUF_ERROR: no progress possible, more input wanted */
		return rc == Z_OK || rc == Z_BUF_ERROR ? DEC_OK : DEC_ERROR;
	}
	}
}

/* The first bytes of a compressed body: the library's state made ready for a new stream. */
static int dec_start(struct http_dir *d, const uint8_t *p, uint32_t n)
{
	struct http_dec *dec = d->dec;

	d->dec_started = true;
	dec->in_bytes = dec->out_bytes = 0;
	switch (d->coding) {
	case HC_GZIP:
	case HC_DEFLATE: {
		int bits = 15 + 32;

		/* RFC 9110 8.4.1.2: "deflate" means the zlib format, yet some servers send raw
		 * deflate. A zlib header has method 8 and is a multiple of 31 (RFC 1950 2.2). */
		if (d->coding == HC_DEFLATE && !(n >= 2 && (p[0] & 0x0f) == 8 && (p[0] >> 4) <= 7 &&
						 ((unsigned)p[0] << 8 | p[1]) % 31 == 0))
			bits = -15;
		return inflateReset2(&dec->zs, bits) == Z_OK ? 0 : -EINVAL;
	}
	case HC_ZSTD:
		return ZSTD_isError(ZSTD_DCtx_reset(dec->zds, ZSTD_reset_session_only)) ? -EINVAL
											: 0;
	default: /* HC_BR: made new for this message by dec_get */
		return dec->br ? 0 : -EINVAL;
	}
}

/* Body bytes into the decoder: copied (identity) or decoded into its text window. */
static void dec_feed(struct parse_ctx *ctx, struct http_dir *d, struct query_record *rec,
		     const uint8_t *p, uint32_t n)
{
	struct http_dec *dec = d->dec;
	size_t left = n;

	if (d->dec_done)
		return;
	if (d->coding == HC_IDENTITY) {
		while (n > 0) {
			uint32_t budget = HTTP_BODY_SCAN_MAX - d->body_scanned;
			uint32_t k = (uint32_t)sizeof(dec->text) - dec->have;

			if (budget == 0) {
				parse_count(ctx, HTTP_BODY_CAPPED);
				d->dec_done = true;
				return;
			}
			k = k < n ? k : n;
			k = k < budget ? k : budget;
			memcpy(dec->text + dec->have, p, k);
			dec->have += k;
			d->body_scanned += k;
			p += k;
			n -= k;
			dec_scan(ctx, d, rec, false);
		}
		return;
	}
	if (!d->dec_started && dec_start(d, p, n) < 0) {
		parse_count(ctx, HTTP_BODY_DECODE_ERRORS);
		d->dec_done = true;
		return;
	}
	/* until every byte is taken and the library holds no output back (it filled the
	 * space it was given: more may be waiting inside it) */
	for (;;) {
		uint32_t budget = HTTP_BODY_SCAN_MAX - d->body_scanned;
		uint32_t k = (uint32_t)sizeof(dec->text) - dec->have;
		size_t used = left, out, cap;
		enum dec_status rc;
		uint8_t probe;

		if (dec->out_bytes >= HTTP_INFLATE_RATIO_FROM &&
		    dec->out_bytes / HTTP_INFLATE_RATIO > dec->in_bytes) {
			parse_count(ctx, HTTP_BODY_CAPPED);
			d->dec_done = true;
			break;
		}
		/* the budget spent, decoding goes on into one probe byte: text past the
		 * budget, or only the stream's end (a gzip trailer) was left */
		cap = out = budget ? (k < budget ? k : budget) : 1;
		rc = dec_step(dec, d->coding, p, &used, budget ? dec->text + dec->have : &probe,
			      &out);
		p += used;
		left -= used;
		dec->in_bytes += used;
		dec->out_bytes += out;
		if (!budget && out) {
			parse_count(ctx, HTTP_BODY_CAPPED);
			d->dec_done = true;
			break;
		}
		dec->have += (uint32_t)out;
		d->body_scanned += (uint32_t)out;
		if (used || out)
			d->dec_clean = rc == DEC_END;
		if (rc == DEC_END && d->coding != HC_ZSTD) {
			/* what follows (padding, a second gzip member) is not read; zstd goes on
			 * with the next frame (RFC 8878 3: frames may be concatenated) */
			d->dec_done = true;
			break;
		}
		if (rc == DEC_ERROR || rc == DEC_REFUSED) {
			parse_count(ctx, rc == DEC_ERROR ? HTTP_BODY_DECODE_ERRORS
							 : HTTP_BODY_UNDECODED);
			d->dec_done = true;
			break;
		}
		dec_scan(ctx, d, rec, false);
		if ((!used && !out) || (!left && out < cap))
			break;
	}
}

/* How the body of dir that begins now is scanned (d->phase is its framing). */
static void body_scan_begin(struct parse_ctx *ctx, struct http_state *st, enum dir dir,
			    uint8_t coding)
{
	struct http_dir *d = &st->d[dir];

	d->body_scanned = 0;
	d->csv_checked = false;
	d->csv = false;
	d->csv_len = 0;
	d->coding = coding;
	d->dec_started = false;
	d->dec_done = false;
	d->dec_clean = false;
	if (!dir_rec(st, dir))
		return; /* no record to report to (the engine counted it) */
	if (coding == HC_OTHER) {
		parse_count(ctx, HTTP_BODY_UNDECODED);
		return;
	}
	/* a body delimited by the close ends without a call with its last bytes: the
	 * value cut at the end of a window waits in the decoder, not the engine's buffer */
	if (coding == HC_IDENTITY && d->phase != HP_BODY_CLOSE)
		d->scan = HS_WINDOW;
	else if (dec_get(d, coding))
		d->scan = HS_DECODER;
	else if (coding == HC_IDENTITY)
		d->scan = HS_PIECE;
	else
		parse_count(ctx, HTTP_BODY_UNDECODED);
}

/* The body framing of a message whose head was just parsed. */
static void body_begin(struct parse_ctx *ctx, struct http_state *st, enum dir dir,
		       const struct http_head *h, bool no_body)
{
	struct http_dir *d = &st->d[dir];

	d->scan = HS_OFF;
	if (no_body) {
		d->phase = HP_HEAD;
	} else if (h->chunked) {
		d->phase = HP_CHUNK_SIZE;
	} else if (h->content_length >= 0) {
		d->remaining = (uint64_t)h->content_length;
		d->phase = d->remaining ? HP_BODY_LEN : HP_HEAD;
	} else if (dir == DIR_RESPONSE) {
		/* RFC 9112 6.3 p7/p8: a response without framing runs until close */
		d->phase = HP_BODY_CLOSE;
		d->remaining = UINT64_MAX;
	} else {
		d->phase = HP_HEAD; /* RFC 9112 6.3 p6: a request without framing has no body */
	}
	if (d->phase != HP_HEAD)
		body_scan_begin(ctx, st, dir, h->coding);
}

/*
 * Takes body bytes (of a Content-Length body, of one chunk's data, or of a body running
 * to the close) from the len at p: counts them on the record and hands them to the PII
 * engine. Returns how many were consumed; 0 to wait until *need bytes are there.
 *
 * In place (HS_WINDOW) a window is scanned once it is all here, whatever the
 * segmentation, and only up to its last value end: the bytes after it stay in the
 * engine's buffer and lead the next window, so no value is cut in two (but at a chunk's
 * end: a window never crosses chunk framing).
 */
static uint32_t body_take(struct parse_ctx *ctx, struct http_state *st, enum dir dir,
			  const uint8_t *p, uint32_t len, uint32_t *need)
{
	struct http_dir *d = &st->d[dir];
	struct query_record *rec = dir_rec(st, dir);
	uint32_t n = d->remaining < len ? (uint32_t)d->remaining : len;
	uint32_t budget = HTTP_BODY_SCAN_MAX - d->body_scanned;

	if (!rec)
		d->scan = HS_OFF; /* finished early (a response before the request's end) */
	if ((d->scan == HS_WINDOW || d->scan == HS_PIECE) && budget == 0) {
		parse_count(ctx, HTTP_BODY_CAPPED);
		d->scan = HS_OFF;
	}
	switch (d->scan) {
	case HS_WINDOW: {
		uint64_t want = d->remaining;
		bool last, first;

		if (want > scan_window(ctx))
			want = scan_window(ctx);
		if (want > budget)
			want = budget;
		if (n < want) {
			*need = (uint32_t)want;
			return 0;
		}
		n = (uint32_t)want;
		last = n == budget && n < d->remaining; /* the budget ends in this window */
		first = !d->csv_checked;
		if (first)
			csv_check(ctx, d, p, n);
		if (n < d->remaining && scan_cut(p, n, d->csv))
			n = scan_cut(p, n, d->csv);
		body_record(ctx, d, rec, p, n, first);
		d->body_scanned = last ? HTTP_BODY_SCAN_MAX : d->body_scanned + n;
		break;
	}
	case HS_PIECE: {
		uint32_t k = n < budget ? n : budget;
		bool first = !d->csv_checked;

		/* pieces are cut anywhere: a CSV's rows are keyed from both ends (keys.c) */
		if (first)
			csv_check(ctx, d, p, k);
		body_record(ctx, d, rec, p, k, first);
		d->body_scanned += k;
		break;
	}
	case HS_DECODER:
		/* deflate's wrapper is told by its first two bytes (dec_feed) */
		if (d->coding == HC_DEFLATE && !d->dec_started && n < 2 && d->remaining >= 2) {
			*need = 2;
			return 0;
		}
		dec_feed(ctx, d, rec, p, n);
		break;
	default:
		break;
	}
	record_add_bytes(rec, dir, n);
	return n;
}

/*
 * The body of dir is over: what the decoder still holds is scanned. `complete`: the
 * message ended by its framing, so a compressed stream that did not end is counted.
 */
static void body_end(struct parse_ctx *ctx, struct http_state *st, enum dir dir, bool complete)
{
	struct http_dir *d = &st->d[dir];

	if (d->scan == HS_DECODER) {
		if (complete && d->coding != HC_IDENTITY && !d->dec_done && !d->dec_clean)
			parse_count(ctx, d->body_scanned == HTTP_BODY_SCAN_MAX
						 ? HTTP_BODY_CAPPED
						 : HTTP_BODY_DECODE_ERRORS);
		dec_scan(ctx, d, dir_rec(st, dir), true);
	}
	if (d->dec)
		dec_end_message(d->dec);
	d->scan = HS_OFF;
}

/* The message of dir is complete. */
static void message_done(struct parse_ctx *ctx, struct http_state *st, enum dir dir)
{
	struct http_dir *d = &st->d[dir];

	body_end(ctx, st, dir, true);
	d->phase = HP_HEAD;
	if (dir == DIR_REQUEST) {
		st->req_rec = NULL;
		if (d->upgrade_wait)
			d->phase = HP_OPAQUE; /* held until the answer to the Upgrade offer */
		return;
	}
	if (st->resp_rec) {
		int64_t code = st->resp_rec->ints[RI_STATUS_CODE];

		rec_finish(ctx, st, st->resp_rec, code >= 400 ? RECORD_ERROR : RECORD_OK);
	}
	st->resp_rec = NULL;
}

static void switch_opaque(struct parse_ctx *ctx, struct http_state *st)
{
	parse_count(ctx, HTTP_UPGRADED);
	st->d[DIR_REQUEST].phase = HP_OPAQUE;
	st->d[DIR_RESPONSE].phase = HP_OPAQUE;
	st->d[DIR_REQUEST].upgrade_wait = false;
}

static struct parse_result request_head(struct parse_ctx *ctx, struct http_state *st,
					const uint8_t *p, uint32_t hlen)
{
	struct http_dir *d = &st->d[DIR_REQUEST];
	uint32_t mlen, tstart, tlen;
	struct query_record *rec;
	struct http_head h;
	uint8_t flags = 0;

	if (hlen >= 16 && memcmp(p, "PRI * HTTP/2.0\r\n", 16) == 0) {
		/* RFC 9113 3.4: the HTTP/2 connection preface (prior knowledge) */
		rec = record_begin(ctx);
		record_set_cstr(rec, RS_METHOD, "PRI");
		record_set_cstr(rec, RS_PATH, "*");
		record_set_cstr(rec, RS_UPGRADE, "h2");
		record_add_bytes(rec, DIR_REQUEST, 24); /* the preface's "SM" part is skipped */
		rec_finish(ctx, st, rec, RECORD_OK);
		switch_opaque(ctx, st);
		return result(PARSE_OK, hlen, 0);
	}
	rec = record_begin(ctx);
	head_fields(ctx, rec, p, hlen, &h, true);
	if (!parse_request_line(h.line, h.line_len, &mlen, &tstart, &tlen)) {
		record_discard(ctx, rec);
		parse_count(ctx, HTTP_MALFORMED);
		parse_count(ctx, HTTP_RESYNC);
		d->phase = HP_SEEK;
		d->seek_midline = false;
		return result(PARSE_OK, hlen, 0);
	}
	record_set_str(rec, RS_METHOD, h.line, mlen);
	record_target(ctx, rec, h.line + tstart, tlen);
	record_add_bytes(rec, DIR_REQUEST, hlen);
	if (rec)
		flags |= HRF_RECORD;
	if (mlen == 4 && memcmp(h.line, "HEAD", 4) == 0)
		flags |= HRF_HEAD;
	if (mlen == 7 && memcmp(h.line, "CONNECT", 7) == 0)
		flags |= HRF_CONNECT;
	if (h.upgrade && h.conn_upgrade) {
		flags |= HRF_UPGRADE;
		set_upgrade(rec, h.upgrade, h.upgrade_len);
		d->upgrade_wait = true;
	}
	if (flags & HRF_CONNECT)
		d->upgrade_wait = true;
	ring_push(st, flags);
	st->req_rec = rec;
	body_begin(ctx, st, DIR_REQUEST, &h, false);
	if (d->phase == HP_HEAD)
		message_done(ctx, st, DIR_REQUEST);
	return result(PARSE_OK, hlen, 0);
}

static struct parse_result response_head(struct parse_ctx *ctx, struct http_state *st,
					 const uint8_t *p, uint32_t hlen)
{
	struct http_dir *d = &st->d[DIR_RESPONSE];
	struct query_record *rec = NULL;
	const uint8_t *reason;
	uint32_t reason_len;
	struct http_head h;
	uint8_t flags = 0;
	bool have;
	int code;

	/* the status line decides whether this is a final response before fields are read */
	{
		const uint8_t *nl = memchr(p, '\n', hlen);
		uint32_t ll = nl ? (uint32_t)(nl - p) : hlen;

		if (ll && p[ll - 1] == '\r')
			ll--;
		code = parse_status_line(p, ll, &reason, &reason_len);
	}
	if (code < 0) {
		parse_count(ctx, HTTP_MALFORMED);
		parse_count(ctx, HTTP_RESYNC);
		d->phase = HP_SEEK;
		d->seek_midline = false;
		return result(PARSE_OK, hlen, 0);
	}
	have = st->ring_count > 0;
	if (have) {
		flags = st->ring[st->ring_head];
		if (flags & HRF_RECORD)
			rec = record_oldest(ctx);
	} else {
		parse_count(ctx, HTTP_UNMATCHED);
	}
	record_add_bytes(rec, DIR_RESPONSE, hlen);
	if (code >= 100 && code < 200 && code != 101) {
		/* RFC 9110 15.2: interim; the final response is still to come */
		head_fields(ctx, NULL, p, hlen, &h, false);
		return result(PARSE_OK, hlen, 0);
	}
	if (have)
		ring_pop(st, &flags);
	head_fields(ctx, rec, p, hlen, &h, false);
	record_set_int(rec, RI_STATUS_CODE, code);
	if (code >= 400 && reason_len)
		record_set_str(rec, RS_ERROR_MESSAGE, reason, reason_len);
	st->resp_rec = rec;
	st->resp_flags = flags;
	if (code == 101 && (flags & HRF_UPGRADE)) {
		if (h.upgrade)
			set_upgrade(rec, h.upgrade, h.upgrade_len);
		rec_finish(ctx, st, rec, RECORD_OK);
		switch_opaque(ctx, st);
		return result(PARSE_OK, hlen, 0);
	}
	if ((flags & HRF_CONNECT) && code >= 200 && code < 300) {
		rec_finish(ctx, st, rec, RECORD_OK);
		switch_opaque(ctx, st);
		return result(PARSE_OK, hlen, 0);
	}
	if (st->d[DIR_REQUEST].upgrade_wait && (flags & (HRF_UPGRADE | HRF_CONNECT))) {
		/* the offer was declined: the client speaks HTTP/1.1 again */
		st->d[DIR_REQUEST].upgrade_wait = false;
		if (st->d[DIR_REQUEST].phase == HP_OPAQUE)
			st->d[DIR_REQUEST].phase = HP_HEAD;
	}
	/* RFC 9112 6.3 p1: HEAD, 1xx, 204 and 304 responses end at the empty line */
	body_begin(ctx, st, DIR_RESPONSE, &h,
		   (flags & HRF_HEAD) || code == 204 || code == 304 || code < 200);
	if (d->phase == HP_HEAD)
		message_done(ctx, st, DIR_RESPONSE);
	return result(PARSE_OK, hlen, 0);
}

/* A line of the chunked framing (size line, CRLF, trailer); 0 with *more when cut. */
static uint32_t framing_line(const uint8_t *p, uint32_t len, bool *more)
{
	const uint8_t *nl = memchr(p, '\n', len);

	*more = nl == NULL;
	return nl ? (uint32_t)(nl - p) + 1 : 0;
}

static struct parse_result seek(struct parse_ctx *ctx, struct http_state *st, enum dir dir,
				const uint8_t *p, uint32_t len)
{
	struct http_dir *d = &st->d[dir];
	uint32_t off = 0;

	(void)ctx;
	while (off < len) {
		const uint8_t *l = p + off, *nl = memchr(l, '\n', len - off);
		uint32_t ll, m, ts, tl;
		const uint8_t *r;
		bool start;

		if (!nl) {
			if (len - off > HTTP_SEEK_LINE || d->seek_midline) {
				d->seek_midline = true;
				return result(PARSE_OK, len, 0);
			}
			if (off)
				return result(PARSE_OK, off, 0);
			return result(PARSE_MORE, 0, len + 1);
		}
		ll = (uint32_t)(nl - l);
		if (ll && l[ll - 1] == '\r')
			ll--;
		start = !d->seek_midline &&
			(dir == DIR_REQUEST ? parse_request_line(l, ll, &m, &ts, &tl)
					    : parse_status_line(l, ll, &r, &m) >= 0);
		d->seek_midline = false;
		if (start) {
			d->phase = HP_HEAD;
			d->scanned = 0;
			if (off)
				return result(PARSE_OK, off, 0);
			return result(PARSE_MORE, 0, 0); /* caller re-dispatches at once */
		}
		off += (uint32_t)(nl - l) + 1;
	}
	return result(PARSE_OK, len, 0);
}

static struct parse_result http_step(struct parse_ctx *ctx, struct http_state *st, enum dir dir,
				     const uint8_t *p, uint32_t len)
{
	struct http_dir *d = &st->d[dir];
	uint32_t n, end, need = 0;
	bool more;

	switch (d->phase) {
	case HP_HEAD:
		/* tolerate empty lines between messages (RFC 9112 2.2) */
		if (p[0] == '\r' || p[0] == '\n') {
			n = 0;
			while (n < len && (p[n] == '\r' || p[n] == '\n'))
				n++;
			return result(PARSE_OK, n, 0);
		}
		end = head_end(p, len, d->scanned > 3 ? d->scanned - 3 : 0);
		if (!end) {
			d->scanned = len;
			if (len >= parse_max_message(ctx)) {
				parse_count(ctx, HTTP_OVERSIZE_HEAD);
				return result(PARSE_LOST, 0, 0);
			}
			return result(PARSE_MORE, 0, len + 1);
		}
		d->scanned = 0;
		return dir == DIR_REQUEST ? request_head(ctx, st, p, end)
					  : response_head(ctx, st, p, end);
	case HP_BODY_LEN:
		n = body_take(ctx, st, dir, p, len, &need);
		if (!n)
			return result(PARSE_MORE, 0, need);
		d->remaining -= n;
		if (!d->remaining)
			message_done(ctx, st, dir);
		return result(PARSE_OK, n, 0);
	case HP_CHUNK_SIZE: {
		uint64_t size = 0;
		uint32_t i = 0, digits = 0;

		n = framing_line(p, len, &more);
		if (more)
			return len > HTTP_LINE_MAX ? result(PARSE_LOST, 0, 0)
						   : result(PARSE_MORE, 0, len + 1);
		for (; i < n; i++) {
			uint8_t c = lower(p[i]);
			int v = c >= '0' && c <= '9' ? c - '0'
						     : (c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1);

			if (v < 0)
				break;
			if (++digits > 15)
				break;
			size = size << 4 | (uint64_t)v;
		}
		if (digits == 0 || digits > 15 ||
		    (p[i] != ';' && p[i] != '\r' && p[i] != '\n' && p[i] != ' ' && p[i] != '\t')) {
			parse_count(ctx, HTTP_MALFORMED);
			parse_count(ctx, HTTP_RESYNC);
			d->phase = HP_SEEK;
			d->seek_midline = false;
			return result(PARSE_OK, n, 0);
		}
		record_add_bytes(dir_rec(st, dir), dir, n);
		d->remaining = size;
		d->phase = size ? HP_CHUNK_DATA : HP_TRAILER;
		return result(PARSE_OK, n, 0);
	}
	case HP_CHUNK_DATA:
		n = body_take(ctx, st, dir, p, len, &need);
		if (!n)
			return result(PARSE_MORE, 0, need);
		d->remaining -= n;
		if (!d->remaining)
			d->phase = HP_CHUNK_CRLF;
		return result(PARSE_OK, n, 0);
	case HP_CHUNK_CRLF:
	case HP_TRAILER:
		n = framing_line(p, len, &more);
		if (more)
			return len > HTTP_LINE_MAX ? result(PARSE_LOST, 0, 0)
						   : result(PARSE_MORE, 0, len + 1);
		record_add_bytes(dir_rec(st, dir), dir, n);
		if (d->phase == HP_CHUNK_CRLF) {
			d->phase = HP_CHUNK_SIZE;
		} else if (n <= 2 && (n == 1 || p[0] == '\r')) {
			message_done(ctx, st, dir); /* the empty line after the last chunk */
		}
		return result(PARSE_OK, n, 0);
	case HP_BODY_CLOSE:
		n = body_take(ctx, st, dir, p, len, &need);
		if (!n)
			return result(PARSE_MORE, 0, need);
		return result(PARSE_OK, n, 0);
	case HP_OPAQUE:
		return result(PARSE_OK, len, 0);
	case HP_SEEK:
	default:
		return seek(ctx, st, dir, p, len);
	}
}

static struct parse_result http_on_data(struct parse_ctx *ctx, void *state, enum dir dir,
					const uint8_t *p, uint32_t len)
{
	struct http_state *st = state;
	struct parse_result r;

	st->d[dir].held = 0; /* what the engine held is at p again */
	r = http_step(ctx, st, dir, p, len);
	/* seek found a start line at p: parse it now rather than return nothing consumed */
	if (r.status == PARSE_MORE && r.needed == 0)
		r = http_step(ctx, st, dir, p, len);
	if (r.status == PARSE_MORE)
		st->d[dir].held = len - r.consumed;
	return r;
}

static void http_on_gap(struct parse_ctx *ctx, void *state, enum dir dir, uint64_t missing)
{
	struct http_state *st = state;
	struct http_dir *d = &st->d[dir];
	/* the engine dropped what this parser left in its buffer: body bytes lost too */
	uint64_t lost = missing + d->held;

	d->held = 0;
	switch (d->phase) {
	case HP_BODY_LEN:
	case HP_CHUNK_DATA:
		if (lost < d->remaining) { /* only body bytes lost: still in sync */
			record_add_bytes(dir_rec(st, dir), dir, lost);
			d->remaining -= lost;
			d->dec_done = true; /* a compressed stream cannot go on after a hole */
			return;
		}
		break;
	case HP_BODY_CLOSE:
		record_add_bytes(dir_rec(st, dir), dir, lost);
		if (d->scan == HS_DECODER && d->coding == HC_IDENTITY)
			dec_scan(ctx, d, dir_rec(st, dir), true); /* no value across the hole */
		else
			d->dec_done = true;
		return;
	case HP_OPAQUE:
		return;
	default:
		break;
	}
	d->scan = HS_OFF;
	parse_count(ctx, HTTP_RESYNC);
	finish_all_pending(ctx, st);
	d->phase = HP_SEEK;
	d->seek_midline = true;
	d->scanned = 0;
	d->upgrade_wait = false;
}

static void http_on_close(struct parse_ctx *ctx, void *state)
{
	struct http_state *st = state;

	for (int dir = 0; dir < 2; dir++) {
		struct http_dir *d = &st->d[dir];

		/* received, never to be parsed: still the message's bytes */
		if (d->phase == HP_BODY_LEN || d->phase == HP_CHUNK_DATA ||
		    d->phase == HP_BODY_CLOSE)
			record_add_bytes(dir_rec(st, (enum dir)dir), (enum dir)dir, d->held);
		d->held = 0;
	}
	/* a body cut by the close: what was decoded goes on its (incomplete) record, the
	 * request's first (its record may be the response's, finished just below) */
	body_end(ctx, st, DIR_REQUEST, false);
	/* RFC 9112 6.3 p8: the close completes a response delimited by it */
	if (st->d[DIR_RESPONSE].phase == HP_BODY_CLOSE && st->resp_rec)
		message_done(ctx, st, DIR_RESPONSE);
	body_end(ctx, st, DIR_RESPONSE, false);
}

/* ---- detection ---- */

static const char *const http_methods[] = {
	"GET ",	    "POST ",   "PUT ",	    "DELETE ",	  "HEAD ",   "OPTIONS ", "PATCH ",
	"CONNECT ", "TRACE ",  "PROPFIND ", "PROPPATCH ", "MKCOL ",  "COPY ",	 "MOVE ",
	"LOCK ",    "UNLOCK ", "PRI ",	    "REPORT ",	  "SEARCH ", "PURGE ",
};

static int http_detect(const uint8_t *p, uint32_t len, enum dir dir)
{
	const uint8_t *nl;

	if (dir == DIR_RESPONSE) {
		if (len < 8)
			return memcmp(p, "HTTP/1.", len) == 0 ? DETECT_NEED_MORE : DETECT_NOT_MINE;
		return memcmp(p, "HTTP/1.", 7) == 0 ? 70 : DETECT_NOT_MINE;
	}
	for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
		size_t n = strlen(http_methods[i]);

		if (len < n) {
			if (memcmp(p, http_methods[i], len) == 0)
				return DETECT_NEED_MORE;
			continue;
		}
		if (memcmp(p, http_methods[i], n) != 0)
			continue;
		if (len >= 16 && memcmp(p, "PRI * HTTP/2.0\r\n", 16) == 0)
			return 95;
		nl = memchr(p, '\n', len);
		if (!nl)
			return len < 2048 ? DETECT_NEED_MORE : 20;
		{
			uint32_t ll = (uint32_t)(nl - p), m, ts, tl;

			if (ll && p[ll - 1] == '\r')
				ll--;
			return parse_request_line(p, ll, &m, &ts, &tl) ? 90 : DETECT_NOT_MINE;
		}
	}
	return DETECT_NOT_MINE;
}

const struct parser http_parser = {
	.name = "http",
	.flags = 0,
	.ports = http_ports,
	.state_size = sizeof(struct http_state),
	.detect = http_detect,
	.on_data = http_on_data,
	.on_gap = http_on_gap,
	.on_close = http_on_close,
	.state_free = http_state_free,
	.counter_defs = http_counter_defs,
	.counter_count = HTTP_COUNTERS,
};
