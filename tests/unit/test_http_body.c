/*
 * HTTP bodies through the real protocol engine and the real PII engine (config/pii.yaml):
 * a whole body is scanned in windows cut at value ends, so a 64 KiB JSON response with
 * 300 distinct emails reports 300 however the bytes are segmented, chunked or
 * compressed (gzip, zlib and raw deflate, made here with zlib; br and zstd, made with
 * libbrotlienc and libzstd); a corrupt or cut compressed body is counted and the
 * connection goes on; a body past the scan budget and a zip bomb are counted; a coding not
 * decoded here (or stacked codings) is counted, not scanned. A 64 KiB CSV export keeps its
 * header's column names in every window: names and streets are found under their columns
 * to the last row, and Luhn-valid order references under order_ref are no card numbers.
 *
 * Records are read back from the NDJSON the real output writes to a temporary file.
 * Run from the repository root (tests/run.sh does).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <brotli/encode.h>
#include <zstd.h>

#include <cmocka.h>

#include "config.h"
#include "conn_table.h"
#include "counters.h"
#include "emit.h"
#include "engine.h"
#include "output.h"
#include "pii/pii.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RULES	      "config/pii.yaml"
#define EMAILS	      300
#define BODY_BYTES    65536
#define CHUNK_CAP     (1u << 17)

static struct config cfg, cfg_small;
static struct output *out;
static struct emitter emit;
static struct pii_engine *pii;
static struct parse_engine *engine;	  /* parsers.buffer_bytes as configured: 64 KiB */
static struct parse_engine *engine_small; /* 4 KiB: windows bounded by the buffer */
static struct conn_table table;
static struct chunk *chunk;
static char out_path[200];
static long out_read; /* bytes of the output file already looked at */
static uint32_t generation;

/* ---- one connection through the engine ---- */

struct session {
	struct parse_engine *eng;
	struct conn *c;
	uint64_t offset[2];
	uint64_t ts;
};

static void session_open(struct session *s, struct parse_engine *eng)
{
	memset(s, 0, sizeof(*s));
	s->eng = eng;
	s->c = conn_table_insert(&table, 1, ++generation);
	assert_non_null(s->c);
	conn_parse_init(&s->c->parse);
	s->c->role = ROLE_CLIENT;
	s->c->src.family = s->c->dst.family = AF_INET;
	s->c->src.port = 40000;
	s->c->dst.port = 8080;
	s->ts = 1000000;
}

/* Bytes of one direction, in chunks of at most `piece` bytes as a socket may deliver them. */
static void session_send(struct session *s, int dir, const void *p, size_t len, size_t piece)
{
	const uint8_t *b = p;

	if (piece == 0 || piece > CHUNK_CAP)
		piece = CHUNK_CAP;
	for (size_t off = 0; off < len; off += piece) {
		uint32_t n = (uint32_t)(len - off < piece ? len - off : piece);

		memset(chunk, 0, sizeof(*chunk));
		chunk->kind = CHUNK_DATA;
		chunk->dir = (uint8_t)dir;
		chunk->len = chunk->len_true = n;
		chunk->offset = s->offset[dir];
		chunk->ts_ns = ++s->ts;
		memcpy(chunk->data, b + off, n);
		parse_engine_data(s->eng, s->c, chunk);
		s->offset[dir] += n;
	}
}

static void session_send_str(struct session *s, int dir, const char *str)
{
	session_send(s, dir, str, strlen(str), 0);
}

/* `missing` bytes of dir lost by the capture (a ring overflow). */
static void session_gap(struct session *s, int dir, uint64_t missing)
{
	parse_engine_gap(s->eng, s->c, (enum dir)dir, missing, ++s->ts);
	s->offset[dir] += missing;
}

static void session_close(struct session *s)
{
	parse_engine_close(s->eng, s->c, ++s->ts);
	conn_table_remove(&table, s->c);
}

/* The NDJSON written since the last call (the caller frees it). */
static char *records_written(void)
{
	struct timespec ts = {0, 1000000};
	char *text;
	long end;
	FILE *f;

	emitter_flush(&emit);
	for (int i = 0;
	     i < 5000 && counters_total("output_records_written_total") < emit.counters[0]; i++)
		nanosleep(&ts, NULL);
	assert_true(counters_total("output_records_written_total") >= emit.counters[0]);
	f = fopen(out_path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	end = ftell(f);
	text = calloc(1, (size_t)(end - out_read) + 1);
	assert_non_null(text);
	fseek(f, out_read, SEEK_SET);
	assert_int_equal(fread(text, 1, (size_t)(end - out_read), f), (size_t)(end - out_read));
	fclose(f);
	out_read = end;
	return text;
}

/* The n-th record line (0-based) that contains `needle`, copied into line; 0 if none. */
static int record_find(const char *text, const char *needle, int n, char *line, size_t cap)
{
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);

		if (len < cap) {
			memcpy(line, l, len);
			line[len] = '\0';
			if (strstr(line, needle) && n-- == 0)
				return 1;
		}
		l += len + (nl ? 1 : 0);
	}
	return 0;
}

/* Emails the record found in bodies: the counts of its pii entries (one per key). */
static long email_body_count(const char *line)
{
	static const char entry[] = "{\"type\":\"email\",\"where\":\"body\"";
	long n = 0;

	for (const char *e = strstr(line, entry); e; e = strstr(e + 1, entry)) {
		const char *c = strstr(e, "\"count\":");

		if (c)
			n += strtol(c + 8, NULL, 10);
	}
	return n;
}

static long field_int(const char *line, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(line, k);
	return p ? strtol(p + strlen(k), NULL, 10) : -1;
}

/* ---- bodies ---- */

static uint8_t body[2 << 20];
static uint8_t packed[2 << 20];
static char head[512];

/*
 * A minified JSON array of EMAILS customers, padded to `size` bytes: no newline
 * anywhere, so windows are cut at ',' and '}' only, and a value cut in two would be lost.
 */
static size_t json_body(uint8_t *b, size_t size, int emails, int first_id)
{
	size_t per = size / (size_t)emails, len = 1;

	b[0] = '[';
	for (int i = 0; i < emails; i++) {
		int n = snprintf((char *)b + len, size - len,
				 "%s{\"id\":%d,\"email\":\"customer%d.x@shop%d.example.com\","
				 "\"plan\":\"gold\",\"notes\":\"",
				 i ? "," : "", first_id + i, first_id + i, (first_id + i) % 13);
		size_t pad;

		len += (size_t)n;
		pad = per * (size_t)(i + 1) > len + 3 ? per * (size_t)(i + 1) - len - 3 : 0;
		memset(b + len, 'z', pad);
		len += pad;
		memcpy(b + len, "\"}", 2);
		len += 2;
	}
	b[len++] = ']';
	return len;
}

/* zlib's deflate with window bits wbits: 31 gzip, 15 zlib, -15 raw. */
static size_t compress_body(const uint8_t *in, size_t len, int wbits, uint8_t *o, size_t cap)
{
	z_stream zs;
	size_t n;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = o;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	n = zs.total_out;
	deflateEnd(&zs);
	return n;
}

static const char request[] = "GET /customers HTTP/1.1\r\nHost: shop.example\r\n\r\n";
static const char *content_type = "application/json"; /* of the responses made below */

/* A response with a Content-Length body of len bytes and the extra header fields. */
static size_t response_head(const char *extra, size_t len)
{
	return (size_t)snprintf(head, sizeof(head),
				"HTTP/1.1 200 OK\r\nContent-Type: %s\r\n%s"
				"Content-Length: %zu\r\n\r\n",
				content_type, extra, len);
}

/* One exchange on a new connection, the response's body sent in pieces of `piece`. */
static char *exchange(struct parse_engine *eng, const char *extra, const uint8_t *b, size_t len,
		      size_t piece)
{
	struct session s;
	size_t hl = response_head(extra, len);

	session_open(&s, eng);
	session_send_str(&s, 0, request);
	session_send(&s, 1, head, hl, piece);
	session_send(&s, 1, b, len, piece);
	session_close(&s);
	return records_written();
}

/* The one record of an exchange: its email count; its bytes_resp must be head + body. */
static long exchange_emails(const char *text, size_t body_len)
{
	char line[16384];

	assert_true(record_find(text, "\"path\":\"/customers\"", 0, line, sizeof(line)));
	assert_false(record_find(text, "\"path\":\"/customers\"", 1, line, sizeof(line)));
	assert_true(record_find(text, "\"path\":\"/customers\"", 0, line, sizeof(line)));
	assert_int_equal(field_int(line, "status_code"), 200);
	assert_int_equal(field_int(line, "bytes_resp"), (long)(strlen(head) + body_len));
	return email_body_count(line);
}

/* ---- tests ---- */

static const size_t pieces[] = {0, 1, 7, 1000, 1448, 4095, 4096, 4097, 16383, 16385, 65535};

static void test_whole_body_is_scanned(void **state)
{
	size_t len = json_body(body, BODY_BYTES, EMAILS, 0);
	char *text;

	(void)state;
	assert_true(len > BODY_BYTES - 256 && len <= BODY_BYTES);
	text = exchange(engine, "", body, len, 0);
	assert_int_equal(exchange_emails(text, len), EMAILS);
	free(text);
}

static void test_any_segmentation_same_count(void **state)
{
	size_t len = json_body(body, BODY_BYTES, EMAILS, 0);

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(pieces); i++) {
		char *text = exchange(engine, "", body, len, pieces[i]);

		if (exchange_emails(text, len) != EMAILS)
			fail_msg("pieces of %zu bytes: %ld emails", pieces[i],
				 exchange_emails(text, len));
		free(text);
		/* a 4 KiB engine buffer bounds the window, nothing else changes */
		text = exchange(engine_small, "", body, len, pieces[i]);
		if (exchange_emails(text, len) != EMAILS)
			fail_msg("4 KiB buffer, pieces of %zu bytes: %ld emails", pieces[i],
				 exchange_emails(text, len));
		free(text);
	}
}

/*
 * Chunked (RFC 9112 7.1) with chunks of varying size, each ending after the byte `end` (a
 * ',' or a '\n') as a serializer flushing whole members or rows does, or anywhere (end
 * 0): a window never crosses chunk framing. With chunk_first_end set, the first chunk ends
 * after that byte whatever `end` is (a header line flushed first).
 */
static uint8_t chunk_first_end;

static size_t chunked(const uint8_t *b, size_t len, uint8_t *o, uint8_t end)
{
	static const size_t sizes[] = {1, 100, 3000, 4096, 9000, 20000, 700};
	size_t off = 0, n = 0;

	for (int i = 0; off < len; i++) {
		size_t k = sizes[i % ARRAY_SIZE(sizes)];

		if (k > len - off)
			k = len - off;
		uint8_t e = i == 0 && chunk_first_end ? chunk_first_end : end;

		while (e && off + k < len && b[off + k - 1] != e)
			k++;
		n += (size_t)sprintf((char *)o + n, "%zx\r\n", k);
		memcpy(o + n, b + off, k);
		n += k;
		memcpy(o + n, "\r\n", 2);
		n += 2;
		off += k;
	}
	memcpy(o + n, "0\r\n\r\n", 5);
	return n + 5;
}

/* One chunked exchange: its record copied into line (16 KiB). */
static void chunked_record(const char *extra, const uint8_t *b, size_t len, uint8_t end,
			   size_t piece, char *line)
{
	static uint8_t wire[2 << 20];
	size_t n = chunked(b, len, wire, end);
	struct session s;
	char *text;

	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n%s"
		 "Transfer-Encoding: chunked\r\n\r\n",
		 content_type, extra);
	session_open(&s, engine);
	session_send_str(&s, 0, request);
	session_send(&s, 1, head, strlen(head), piece);
	session_send(&s, 1, wire, n, piece);
	session_close(&s);
	text = records_written();
	assert_true(record_find(text, "\"path\":\"/customers\"", 0, line, 16384));
	assert_int_equal(field_int(line, "bytes_resp"), (long)(strlen(head) + n));
	assert_int_equal(field_int(line, "status_code"), 200);
	free(text);
}

static long chunked_exchange(const char *extra, const uint8_t *b, size_t len, uint8_t end,
			     size_t piece)
{
	char line[16384];

	chunked_record(extra, b, len, end, piece, line);
	return email_body_count(line);
}

static void test_chunked_body(void **state)
{
	size_t len = json_body(body, BODY_BYTES, EMAILS, 0);
	static const size_t chunk_pieces[] = {0, 1, 7, 4097};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(chunk_pieces); i++)
		assert_int_equal(chunked_exchange("", body, len, ',', chunk_pieces[i]), EMAILS);
}

static void test_compressed_body(void **state)
{
	size_t len = json_body(body, BODY_BYTES, EMAILS, 0);
	static const struct {
		const char *name, *field;
		int wbits;
	} codings[] = {
		{"gzip", "Content-Encoding: gzip\r\n", 31},
		{"x-gzip", "Content-Encoding: x-gzip\r\n", 31},
		{"zlib", "Content-Encoding: deflate\r\n", 15},	       /* RFC 9110 8.4.1.2 */
		{"raw deflate", "Content-Encoding: deflate\r\n", -15}, /* what some servers send */
	};

	(void)state;
	for (size_t c = 0; c < ARRAY_SIZE(codings); c++) {
		size_t n = compress_body(body, len, codings[c].wbits, packed, sizeof(packed));

		assert_true(n < len / 2);
		for (size_t i = 0; i < ARRAY_SIZE(pieces); i++) {
			char *text = exchange(engine, codings[c].field, packed, n, pieces[i]);

			if (exchange_emails(text, n) != EMAILS)
				fail_msg("%s, pieces of %zu: %ld emails", codings[c].name,
					 pieces[i], exchange_emails(text, n));
			free(text);
		}
	}
	/* one connection, one decoder: gzip then raw deflate then gzip, each 300 */
	{
		static const int wbits[] = {31, -15, 31};
		char line[16384];
		struct session s;
		char *text;

		session_open(&s, engine);
		for (int i = 0; i < 3; i++)
			session_send_str(&s, 0, request);
		for (int i = 0; i < 3; i++) {
			size_t n = compress_body(body, len, wbits[i], packed, sizeof(packed));
			size_t hl = response_head(wbits[i] < 0 ? "Content-Encoding: deflate\r\n"
							       : "Content-Encoding: gzip\r\n",
						  n);

			session_send(&s, 1, head, hl, 0);
			session_send(&s, 1, packed, n, 4097);
		}
		session_close(&s);
		text = records_written();
		for (int i = 0; i < 3; i++) {
			assert_true(record_find(text, "\"path\":\"/customers\"", i, line,
						sizeof(line)));
			assert_int_equal(email_body_count(line), EMAILS);
			assert_non_null(strstr(line, "\"status\":\"ok\""));
		}
		free(text);
	}
	/* chunked and gzip: chunks cut anywhere, the inflated text is one stream */
	{
		size_t n = compress_body(body, len, 31, packed, sizeof(packed));

		assert_int_equal(chunked_exchange("Content-Encoding: gzip\r\n", packed, n, 0, 0),
				 EMAILS);
		assert_int_equal(chunked_exchange("Content-Encoding: gzip\r\n", packed, n, 0, 7),
				 EMAILS);
	}
}

/* brotli (RFC 7932) at quality 5 and the default 4 MiB window, as a server compresses on
 * the fly. */
static size_t brotli_body(const uint8_t *in, size_t len, uint8_t *o, size_t cap)
{
	size_t n = cap;

	assert_int_equal(
		BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, len, in, &n, o),
		BROTLI_TRUE);
	return n;
}

/* One zstd frame (RFC 8878 3.1.1) at level 3; window_log 0: the library's choice, which
 * for a known size fits the content. With window_log set, the size is left out of the
 * header (as a streaming server does) so that the window is what the header says. */
static size_t zstd_body(const uint8_t *in, size_t len, int window_log, uint8_t *o, size_t cap)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t n;

	assert_non_null(cc);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3)));
	if (window_log) {
		assert_false(
			ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, window_log)));
		assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)));
	}
	if (!window_log) {
		n = ZSTD_compress2(cc, o, cap, in, len);
		assert_false(ZSTD_isError(n));
	} else { /* streamed: the library does not know the size, nor fit the window to it */
		ZSTD_inBuffer ib = {in, len, 0};
		ZSTD_outBuffer ob = {o, cap, 0};

		assert_false(ZSTD_isError(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_continue)));
		assert_int_equal(ib.pos, len);
		assert_int_equal(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end), 0);
		n = ob.pos;
	}
	ZSTD_freeCCtx(cc);
	return n;
}

static void test_brotli_and_zstd_bodies(void **state)
{
	size_t len = json_body(body, BODY_BYTES, EMAILS, 0);
	static const char *const fields[] = {"Content-Encoding: br\r\n",
					     "Content-Encoding: zstd\r\n"};

	(void)state;
	for (int c = 0; c < 2; c++) {
		size_t n = c == 0 ? brotli_body(body, len, packed, sizeof(packed))
				  : zstd_body(body, len, 0, packed, sizeof(packed));

		assert_true(n < len / 2);
		for (size_t i = 0; i < ARRAY_SIZE(pieces); i++) {
			char *text = exchange(engine, fields[c], packed, n, pieces[i]);

			if (exchange_emails(text, n) != EMAILS)
				fail_msg("%s pieces of %zu: %ld emails", fields[c], pieces[i],
					 exchange_emails(text, n));
			free(text);
			text = exchange(engine_small, fields[c], packed, n, pieces[i]);
			if (exchange_emails(text, n) != EMAILS)
				fail_msg("4 KiB buffer, %s pieces of %zu: %ld emails", fields[c],
					 pieces[i], exchange_emails(text, n));
			free(text);
		}
		/* chunked, chunks cut anywhere: the decoded text is one stream */
		assert_int_equal(chunked_exchange(fields[c], packed, n, 0, 0), EMAILS);
		assert_int_equal(chunked_exchange(fields[c], packed, n, 0, 7), EMAILS);
		/* Transfer-Encoding names the coding as well (RFC 9112 7) */
		assert_int_equal(chunked_exchange(c == 0 ? "Transfer-Encoding: br\r\n"
							 : "Transfer-Encoding: zstd\r\n",
						  packed, n, 0, 1448),
				 EMAILS);
	}
	/* zstd frames may follow one another (RFC 8878 3): two halves, each its own frame,
	 * with a window of 2^20 and no content size, as a streaming server sends */
	{
		size_t half = len / 2, n;
		char *text;

		while (body[half - 1] != ',')
			half++;
		n = zstd_body(body, half, 20, packed, sizeof(packed));
		n += zstd_body(body + half, len - half, 20, packed + n, sizeof(packed) - n);
		for (size_t i = 0; i < ARRAY_SIZE(pieces); i++) {
			text = exchange(engine, fields[1], packed, n, pieces[i]);
			if (exchange_emails(text, n) != EMAILS)
				fail_msg("two zstd frames, pieces of %zu: %ld emails", pieces[i],
					 exchange_emails(text, n));
			free(text);
		}
	}
	/* one connection, one decoder: br, zstd, gzip, br, zstd, each 300 and ok */
	{
		static const int kinds[] = {0, 1, 2, 0, 1};
		char line[16384];
		struct session s;
		char *text;

		session_open(&s, engine);
		for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
			session_send_str(&s, 0, request);
		for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
			size_t n = kinds[i] == 0 ? brotli_body(body, len, packed, sizeof(packed))
				   : kinds[i] == 1
					   ? zstd_body(body, len, 0, packed, sizeof(packed))
					   : compress_body(body, len, 31, packed, sizeof(packed));
			size_t hl = response_head(
				kinds[i] == 2 ? "Content-Encoding: gzip\r\n" : fields[kinds[i]], n);

			session_send(&s, 1, head, hl, 0);
			session_send(&s, 1, packed, n, 4097);
		}
		session_close(&s);
		text = records_written();
		for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
			assert_true(record_find(text, "\"path\":\"/customers\"", (int)i, line,
						sizeof(line)));
			assert_int_equal(email_body_count(line), EMAILS);
			assert_non_null(strstr(line, "\"status\":\"ok\""));
		}
		free(text);
	}
}

/*
 * A corrupt stream and one cut short (its message ends before the stream does) are
 * counted as decode errors and the connection goes on with the next response.
 */
static void test_corrupt_brotli_and_zstd_counted(void **state)
{
	size_t len = json_body(body, BODY_BYTES, EMAILS, 0);
	size_t next_len = json_body(body + BODY_BYTES, 2000, 1, 7000);
	static const char *const fields[] = {"Content-Encoding: br\r\n",
					     "Content-Encoding: zstd\r\n"};

	(void)state;
	for (int c = 0; c < 2; c++) {
		for (int cut = 0; cut < 2; cut++) {
			uint64_t errors = counters_total("http_body_decode_errors_total");
			size_t n = c == 0 ? brotli_body(body, len, packed, sizeof(packed))
					  : zstd_body(body, len, 0, packed, sizeof(packed));
			char line[16384];
			struct session s;
			size_t hl;
			char *text;

			if (cut)
				n /= 2;
			else
				memset(packed + n / 3, 0xa5, 64); /* in the compressed blocks */
			hl = response_head(fields[c], n);
			session_open(&s, engine);
			session_send_str(&s, 0, request);
			session_send_str(&s, 0, "GET /next HTTP/1.1\r\nHost: shop.example\r\n\r\n");
			session_send(&s, 1, head, hl, 0);
			session_send(&s, 1, packed, n, 1448);
			hl = response_head("", next_len);
			session_send(&s, 1, head, hl, 0);
			session_send(&s, 1, body + BODY_BYTES, next_len, 0);
			session_close(&s);
			text = records_written();
			if (counters_total("http_body_decode_errors_total") != errors + 1)
				fail_msg("%s %s: %" PRIu64 " decode errors", fields[c],
					 cut ? "cut short" : "corrupt",
					 counters_total("http_body_decode_errors_total") - errors);
			assert_true(record_find(text, "\"path\":\"/customers\"", 0, line,
						sizeof(line)));
			assert_int_equal(field_int(line, "status_code"), 200);
			/* what decoded before the damage is scanned, not more */
			assert_true(email_body_count(line) < EMAILS);
			assert_true(record_find(text, "\"path\":\"/next\"", 0, line, sizeof(line)));
			assert_int_equal(field_int(line, "bytes_resp"), (long)(hl + next_len));
			assert_int_equal(email_body_count(line), 1);
			assert_non_null(strstr(line, "\"status\":\"ok\""));
			free(text);
		}
	}
}

static void test_brotli_and_zstd_bombs_are_stopped(void **state)
{
	uint64_t capped = counters_total("http_body_scan_capped_total");
	uint64_t errors = counters_total("http_body_decode_errors_total");
	uint64_t undecoded = counters_total("http_body_undecoded_total");
	size_t n, len;
	char *text;

	(void)state;
	memset(body, ' ', sizeof(body)); /* 2 MiB of one byte */
	n = brotli_body(body, sizeof(body), packed, sizeof(packed));
	assert_true(n < 8192);
	text = exchange(engine, "Content-Encoding: br\r\n", packed, n, 0);
	assert_int_equal(exchange_emails(text, n), 0);
	free(text);
	assert_int_equal(counters_total("http_body_scan_capped_total"), capped + 1);
	n = zstd_body(body, sizeof(body), 0, packed, sizeof(packed));
	assert_true(n < 8192);
	text = exchange(engine, "Content-Encoding: zstd\r\n", packed, n, 1);
	assert_int_equal(exchange_emails(text, n), 0);
	free(text);
	assert_int_equal(counters_total("http_body_scan_capped_total"), capped + 2);
	assert_int_equal(counters_total("http_body_decode_errors_total"), errors);
	assert_int_equal(counters_total("http_body_undecoded_total"), undecoded);

	/* a zstd window over 8 MiB (RFC 9659 3) is not decoded, and counted so */
	len = json_body(body, BODY_BYTES, EMAILS, 0);
	n = zstd_body(body, len, 24, packed, sizeof(packed));
	text = exchange(engine, "Content-Encoding: zstd\r\n", packed, n, 0);
	assert_int_equal(exchange_emails(text, n), 0);
	free(text);
	assert_int_equal(counters_total("http_body_undecoded_total"), undecoded + 1);
	assert_int_equal(counters_total("http_body_decode_errors_total"), errors);
	/* 2^23 still is */
	n = zstd_body(body, len, 23, packed, sizeof(packed));
	text = exchange(engine, "Content-Encoding: zstd\r\n", packed, n, 0);
	assert_int_equal(exchange_emails(text, n), EMAILS);
	free(text);
}

static void test_corrupt_gzip_counted_connection_goes_on(void **state)
{
	uint64_t errors = counters_total("http_body_decode_errors_total");
	size_t len = json_body(body, BODY_BYTES, EMAILS, 0);
	size_t n = compress_body(body, len, 31, packed, sizeof(packed));
	size_t next_len = json_body(body, 2000, 1, 7000);
	char line[16384];
	struct session s;
	size_t hl;
	char *text;

	(void)state;
	memset(packed + n / 3, 0xa5, 64); /* past the header, in the compressed blocks */
	hl = response_head("Content-Encoding: gzip\r\n", n);
	session_open(&s, engine);
	session_send_str(&s, 0, request);
	session_send_str(&s, 0, "GET /next HTTP/1.1\r\nHost: shop.example\r\n\r\n");
	session_send(&s, 1, head, hl, 0);
	session_send(&s, 1, packed, n, 1448);
	hl = response_head("", next_len);
	session_send(&s, 1, head, hl, 0);
	session_send(&s, 1, body, next_len, 0);
	session_close(&s);
	text = records_written();
	assert_int_equal(counters_total("http_body_decode_errors_total"), errors + 1);
	assert_true(record_find(text, "\"path\":\"/customers\"", 0, line, sizeof(line)));
	assert_int_equal(field_int(line, "status_code"), 200);
	assert_true(record_find(text, "\"path\":\"/next\"", 0, line, sizeof(line)));
	assert_int_equal(field_int(line, "status_code"), 200);
	assert_int_equal(field_int(line, "bytes_resp"), (long)(hl + next_len));
	assert_int_equal(email_body_count(line), 1);
	assert_non_null(strstr(line, "\"status\":\"ok\""));
	free(text);
}

/*
 * Body bytes the parser left in the engine's buffer (a window still incomplete) are lost
 * with a gap and must count as lost body bytes, or the framing after the body slips;
 * at a close they were still received.
 */
static void test_gap_and_close_inside_body(void **state)
{
	size_t len = json_body(body, BODY_BYTES, EMAILS, 0);
	size_t next_len = json_body(packed, 2000, 1, 7000);
	uint64_t resync = counters_total("http_resync_total");
	char line[16384];
	struct session s;
	size_t hl, hl2;
	char *text;

	(void)state;
	hl = response_head("", len);
	session_open(&s, engine);
	session_send_str(&s, 0, request);
	session_send_str(&s, 0, "GET /next HTTP/1.1\r\nHost: shop.example\r\n\r\n");
	session_send(&s, 1, head, hl, 0);
	session_send(&s, 1, body, 10000, 1448); /* less than a window: all of it held */
	session_gap(&s, 1, 5000);
	session_send(&s, 1, body + 15000, len - 15000, 1448);
	hl2 = response_head("", next_len);
	session_send(&s, 1, head, hl2, 0);
	session_send(&s, 1, packed, next_len, 0);
	/* a third response cut by the close */
	session_send_str(&s, 0, request);
	hl = response_head("", len);
	session_send(&s, 1, head, hl, 0);
	session_send(&s, 1, body, 10000, 1448);
	session_close(&s);
	text = records_written();
	assert_int_equal(counters_total("http_resync_total"), resync);
	assert_true(record_find(text, "\"path\":\"/customers\"", 0, line, sizeof(line)));
	assert_int_equal(field_int(line, "bytes_resp"), (long)(hl + len));
	assert_true(record_find(text, "\"path\":\"/next\"", 0, line, sizeof(line)));
	assert_int_equal(field_int(line, "bytes_resp"), (long)(hl2 + next_len));
	assert_int_equal(email_body_count(line), 1);
	assert_true(record_find(text, "\"path\":\"/customers\"", 1, line, sizeof(line)));
	assert_non_null(strstr(line, "\"status\":\"incomplete\""));
	assert_int_equal(field_int(line, "bytes_resp"), (long)(hl + 10000));
	free(text);
}

static void test_scan_budget_is_counted(void **state)
{
	uint64_t capped = counters_total("http_body_scan_capped_total");
	uint64_t errors = counters_total("http_body_decode_errors_total");
	size_t big = (3u << 20) / 2; /* 1.5 MiB, 3000 emails: a third past the budget */
	size_t len = json_body(body, big, 3000, 0), n;
	char *text;
	long count;

	(void)state;
	text = exchange(engine, "", body, len, 1448);
	count = exchange_emails(text, len);
	free(text);
	assert_int_equal(counters_total("http_body_scan_capped_total"), capped + 1);
	assert_true(count > 1900 && count < 2100); /* what the first MiB holds */

	/* a body of the whole budget is not cut */
	len = json_body(body, 1u << 20, 2000, 0);
	memset(body + len, ' ', (1u << 20) - len); /* JSON may end in white space */
	len = 1u << 20;
	text = exchange(engine, "", body, len, 0);
	assert_int_equal(exchange_emails(text, len), 2000);
	free(text);
	assert_int_equal(counters_total("http_body_scan_capped_total"), capped + 1);

	/* gzip: exactly the budget inflated is not cut either (its trailer still read) */
	n = compress_body(body, len, 31, packed, sizeof(packed));
	text = exchange(engine, "Content-Encoding: gzip\r\n", packed, n, 1);
	assert_int_equal(exchange_emails(text, n), 2000);
	free(text);
	assert_int_equal(counters_total("http_body_scan_capped_total"), capped + 1);
	assert_int_equal(counters_total("http_body_decode_errors_total"), errors);

	/* the same through gzip: inflated bytes are what the budget counts */
	len = json_body(body, big, 3000, 0);
	text = exchange(engine, "Content-Encoding: gzip\r\n", packed,
			compress_body(body, len, 31, packed, sizeof(packed)), 0);
	free(text);
	assert_int_equal(counters_total("http_body_scan_capped_total"), capped + 2);
}

static void test_zip_bomb_is_stopped(void **state)
{
	uint64_t capped = counters_total("http_body_scan_capped_total");
	uint64_t errors = counters_total("http_body_decode_errors_total");
	size_t n;
	char *text;

	(void)state;
	memset(body, ' ', sizeof(body)); /* 2 MiB of one byte: about 2 KiB gzipped */
	n = compress_body(body, sizeof(body), 31, packed, sizeof(packed));
	assert_true(n < 8192);
	text = exchange(engine, "Content-Encoding: gzip\r\n", packed, n, 0);
	assert_int_equal(exchange_emails(text, n), 0);
	free(text);
	assert_int_equal(counters_total("http_body_scan_capped_total"), capped + 1);
	assert_int_equal(counters_total("http_body_decode_errors_total"), errors);
}

static void test_other_coding_not_scanned(void **state)
{
	uint64_t undecoded = counters_total("http_body_undecoded_total");
	size_t len = json_body(body, 4000, 10, 0);
	char *text;

	(void)state;
	/* compress (LZW) is not decoded here: the bytes are not scanned as if they were text */
	text = exchange(engine, "Content-Encoding: compress\r\n", body, len, 0);
	assert_int_equal(exchange_emails(text, len), 0);
	free(text);
	assert_int_equal(counters_total("http_body_undecoded_total"), undecoded + 1);
	/* nor are stacked codings, even of two decoded here (gzip, then br over it) */
	len = brotli_body(packed, compress_body(body, len, 31, packed, sizeof(packed)),
			  packed + (1 << 20), 1 << 20);
	text = exchange(engine, "Content-Encoding: gzip, br\r\n", packed + (1 << 20), len, 0);
	assert_int_equal(exchange_emails(text, len), 0);
	free(text);
	assert_int_equal(counters_total("http_body_undecoded_total"), undecoded + 2);
}

static void test_request_body_and_close_delimited_response(void **state)
{
	size_t len = json_body(body, BODY_BYTES, EMAILS, 0);
	size_t n = compress_body(body, len, 31, packed, sizeof(packed));
	char line[16384];
	struct session s;
	char *text;
	int hl;

	(void)state;
	/* a gzip request body, and an HTTP/1.0 response running to the close */
	hl = snprintf(head, sizeof(head),
		      "POST /import HTTP/1.1\r\nHost: shop.example\r\nContent-Encoding: gzip\r\n"
		      "Content-Length: %zu\r\n\r\n",
		      n);
	session_open(&s, engine);
	session_send(&s, 0, head, (size_t)hl, 0);
	session_send(&s, 0, packed, n, 999);
	session_send_str(&s, 1, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n");
	len = json_body(body, 40000, 100, 1000);
	memcpy(body + len - 1, "\ncontact: last.one@example.org", 30); /* no value end after it */
	len += 29;
	session_send(&s, 1, body, len, 1000);
	session_close(&s);
	text = records_written();
	assert_true(record_find(text, "\"path\":\"/import\"", 0, line, sizeof(line)));
	assert_int_equal(field_int(line, "bytes_req"), (long)(hl + (int)n));
	/* 300 in the request body, 100 and the last one in the response's */
	assert_int_equal(email_body_count(line), EMAILS + 101);
	free(text);
}

/* ---- a CSV export ---- */

#define CSV_HEADER "id,customer_name,street,order_ref,email\r\n"

static const char *const first_names[] = {"Maria",  "John",   "Emma",  "Liam",	   "Olivia",
					  "Noah",   "Sophia", "James", "Isabella", "Lucas",
					  "Amelia", "Henry",  "Grace", "Samuel"};
static const char *const last_names[] = {"Garcia", "Smith",    "Johnson", "Brown",  "Miller",
					 "Davis",  "Martinez", "Wilson",  "Taylor", "Anderson",
					 "Thomas", "Moore",    "Clark"};
static const char *const streets[] = {"Maple", "Oak", "Cedar", "Elm", "Willow", "Birch", "Pine"};

/* The 16-digit order reference of row i: Luhn-valid, as card numbers are. */
static void order_ref(int i, char out[17])
{
	int sum = 0;

	snprintf(out, 17, "4%014d", 53217 * i + 1000003);
	for (int k = 14, dbl = 1; k >= 0; k--, dbl = !dbl) {
		int d = (out[k] - '0') * (dbl ? 2 : 1);

		sum += d > 9 ? d - 9 : d;
	}
	out[15] = (char)('0' + (10 - sum % 10) % 10);
	out[16] = '\0';
}

/*
 * A CSV export (RFC 4180: CRLF, a field with a separator quoted) of at most `size` bytes:
 * the header, then rows of a person's name, a street address, an order reference and an
 * email. Returns its length; *rows is the number of rows.
 */
static size_t csv_body(uint8_t *b, size_t size, int *rows)
{
	size_t len = strlen(CSV_HEADER);

	memcpy(b, CSV_HEADER, len);
	*rows = 0;
	for (int i = 0;; i++) {
		char row[256], street[64], ref[17];
		int n;

		/* every fifth street has a flat after a ',': quoted */
		if (i % 5 == 4)
			snprintf(street, sizeof(street), "\"%d %s Street, Apt %d\"", 10 + i % 990,
				 streets[i % ARRAY_SIZE(streets)], 1 + i % 40);
		else
			snprintf(street, sizeof(street), "%d %s Street", 10 + i % 990,
				 streets[i % ARRAY_SIZE(streets)]);
		order_ref(i, ref);
		n = snprintf(row, sizeof(row), "%d,%s %s,%s,%s,c%d.x@mail%d.example.com\r\n", i + 1,
			     first_names[i % ARRAY_SIZE(first_names)],
			     last_names[i % ARRAY_SIZE(last_names)], street, ref, i, i % 11);
		if (len + (size_t)n > size)
			break;
		memcpy(b + len, row, (size_t)n);
		len += (size_t)n;
		(*rows)++;
	}
	return len;
}

/* The findings of a type the record counts in bodies, under column (NULL: any column). */
static long body_count(const char *line, const char *type, const char *column)
{
	char entry[128];
	long n = 0;

	snprintf(entry, sizeof(entry), "{\"type\":\"%s\",\"where\":\"body\",\"column\":", type);
	for (const char *e = strstr(line, entry); e; e = strstr(e + 1, entry)) {
		const char *col = e + strlen(entry), *c = strstr(col, "\"count\":");
		size_t cl = column ? strlen(column) : 0;

		if (c && (!column ||
			  (col[0] == '"' && !strncmp(col + 1, column, cl) && col[1 + cl] == '"')))
			n += strtol(c + 8, NULL, 10);
	}
	return n;
}

/* Every row's email, name and street under its column, and no order reference a card. */
static void csv_check_record(const char *line, int rows, const char *what, size_t piece)
{
	long emails = body_count(line, "email", "email");
	long names = body_count(line, "person_name", "customer_name");
	long streets_found = body_count(line, "address", "street");
	long cards = body_count(line, "credit_card", NULL);

	if (emails != rows || names != rows || streets_found != rows || cards != 0)
		fail_msg("%s, pieces of %zu: %d rows, %ld emails, %ld names, %ld streets, "
			 "%ld card numbers",
			 what, piece, rows, emails, names, streets_found, cards);
}

static const char *csv_exchange(struct parse_engine *eng, const char *extra, const uint8_t *b,
				size_t len, size_t piece)
{
	static char line[16384];
	char *text = exchange(eng, extra, b, len, piece);

	assert_true(record_find(text, "\"path\":\"/customers\"", 0, line, sizeof(line)));
	assert_int_equal(field_int(line, "bytes_resp"), (long)(strlen(head) + len));
	free(text);
	return line;
}

static void test_csv_body_keeps_its_header(void **state)
{
	int rows;
	size_t len = csv_body(body, BODY_BYTES, &rows), n;
	static const size_t chunk_pieces[] = {0, 1, 7, 4097};
	char line[16384];

	(void)state;
	content_type = "text/csv";
	assert_true(len > BODY_BYTES - 256 && rows > 600);
	for (size_t i = 0; i < ARRAY_SIZE(pieces); i++) {
		csv_check_record(csv_exchange(engine, "", body, len, pieces[i]), rows, "plain",
				 pieces[i]);
		/* 4 KiB windows: sixteen of them after the one with the header */
		csv_check_record(csv_exchange(engine_small, "", body, len, pieces[i]), rows,
				 "plain, 4 KiB buffer", pieces[i]);
	}
	/* chunked, each chunk whole rows (the first is the header line alone) */
	for (size_t i = 0; i < ARRAY_SIZE(chunk_pieces); i++) {
		chunked_record("", body, len, '\n', chunk_pieces[i], line);
		csv_check_record(line, rows, "chunked by rows", chunk_pieces[i]);
	}
	/* gzip and zstd: the inflated text is cut into windows at line ends */
	n = compress_body(body, len, 31, packed, sizeof(packed));
	for (size_t i = 0; i < ARRAY_SIZE(pieces); i++) {
		csv_check_record(
			csv_exchange(engine, "Content-Encoding: gzip\r\n", packed, n, pieces[i]),
			rows, "gzip", pieces[i]);
		csv_check_record(csv_exchange(engine_small, "Content-Encoding: gzip\r\n", packed, n,
					      pieces[i]),
				 rows, "gzip, 4 KiB buffer", pieces[i]);
	}
	chunked_record("Content-Encoding: gzip\r\n", packed, n, 0, 7, line);
	csv_check_record(line, rows, "gzip chunked anywhere", 7);
	n = zstd_body(body, len, 0, packed, sizeof(packed));
	csv_check_record(csv_exchange(engine, "Content-Encoding: zstd\r\n", packed, n, 1448), rows,
			 "zstd", 1448);
	/* chunks cut anywhere after the header's: a row cut in two keeps its columns from
	 * both ends (its cut value may be lost, README), and no order_ref becomes a card */
	chunk_first_end = '\n';
	chunked_record("", body, len, 0, 0, line);
	chunk_first_end = 0;
	assert_int_equal(body_count(line, "credit_card", NULL), 0);
	assert_true(body_count(line, "email", "email") > rows * 9 / 10);
	assert_true(body_count(line, "person_name", "customer_name") > rows * 9 / 10);
	/* an HTTP/1.0 response running to the close: windows made in the decoder's buffer */
	{
		struct session s;
		char *text;

		session_open(&s, engine);
		session_send_str(&s, 0, request);
		session_send_str(&s, 1, "HTTP/1.0 200 OK\r\nContent-Type: text/csv\r\n\r\n");
		session_send(&s, 1, body, len, 1000);
		session_close(&s);
		text = records_written();
		assert_true(record_find(text, "\"path\":\"/customers\"", 0, line, sizeof(line)));
		free(text);
		csv_check_record(line, rows, "to the close", 1000);
	}
	content_type = "application/json";
}

static int setup(void **state)
{
	char err[512];
	int fd;

	(void)state;
	snprintf(out_path, sizeof(out_path), "%s/test_http_body-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(out_path);
	if (fd < 0)
		return -1;
	close(fd);
	config_defaults(&cfg);
	snprintf(cfg.output, sizeof(cfg.output), "file:%s", out_path);
	cfg.parser_records = 64;
	cfg.parser_statements = 64;
	cfg.redact = REDACT_NONE;
	cfg_small = cfg;
	cfg_small.parser_buffer_bytes = 4096;
	if (pii_engine_load(&pii, RULES, err, sizeof(err))) {
		fprintf(stderr, "# %s\n", err);
		return -1;
	}
	chunk = malloc(sizeof(*chunk) + CHUNK_CAP);
	if (!chunk || output_open(&out, &cfg, 1, err, sizeof(err)) || output_start(out) ||
	    emitter_init(&emit, out, 0, 1000, NULL, NULL) ||
	    parse_engine_create(&engine, &cfg, &emit, pii, 0, 16) ||
	    parse_engine_create(&engine_small, &cfg_small, &emit, pii, 1, 16) ||
	    conn_table_init(&table, 16))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	/* the engines' counters stay registered for the process: they are not freed */
	emitter_flush(&emit);
	output_close(out);
	unlink(out_path);
	free(chunk);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_body_is_scanned),
		cmocka_unit_test(test_any_segmentation_same_count),
		cmocka_unit_test(test_chunked_body),
		cmocka_unit_test(test_compressed_body),
		cmocka_unit_test(test_brotli_and_zstd_bodies),
		cmocka_unit_test(test_corrupt_brotli_and_zstd_counted),
		cmocka_unit_test(test_brotli_and_zstd_bombs_are_stopped),
		cmocka_unit_test(test_corrupt_gzip_counted_connection_goes_on),
		cmocka_unit_test(test_gap_and_close_inside_body),
		cmocka_unit_test(test_scan_budget_is_counted),
		cmocka_unit_test(test_zip_bomb_is_stopped),
		cmocka_unit_test(test_other_coding_not_scanned),
		cmocka_unit_test(test_request_body_and_close_delimited_response),
		cmocka_unit_test(test_csv_body_keeps_its_header),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
