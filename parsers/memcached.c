/*
 * memcached, text protocol (memcached doc/protocol.txt, including the meta commands) and
 * binary protocol ("BinaryProtocolRevamped"): one record per command with `query` (the
 * command line as sent, without its data block; binary: the opcode and key) and
 * `command`, `rows` for the values a retrieval returned, and errors (ERROR,
 * CLIENT_ERROR, SERVER_ERROR, binary status codes) as `error`.
 *
 * Lines wait for their CRLF; data blocks (storage values, VALUE/VA payloads, binary
 * bodies beyond their header, extras and key) stream by, their first bytes handed to the
 * PII engine. Text replies pair in order: a retrieval or stats reply runs to END, others
 * are one line (VA with its data block). `noreply` commands, quit and quiet meta
 * commands (flag q) get no reply: their records are finished when sent. Binary replies
 * pair by opaque: quiet commands (GetQ, SetQ, ...) answered only on a miss or an error are
 * finished as ok when a later reply shows the server went past them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "counters.h"
#include "parser.h"
#include "wire.h"

#define MC_LINE_MAX   8192
#define MC_PENDING    64
#define MC_BIN_HEADER 24
#define MC_VALUE_SCAN 1024 /* value bytes per item handed to the PII engine */

enum mc_counter {
	MC_MALFORMED,
	MC_UNMATCHED,
	MC_COUNTERS,
};

static const struct counter_def mc_counter_defs[MC_COUNTERS] = {
	[MC_MALFORMED] = {"memcached_malformed_total", "Lines or headers that are not memcached"},
	[MC_UNMATCHED] = {"memcached_unmatched_replies_total",
			  "Replies with no command waiting for them"},
};

enum mc_flag {
	MCF_RECORD = 1u << 0, /* a record was allocated: it is record_oldest() */
	MCF_MULTI = 1u << 1,  /* text reply runs to END (get, gets, gat, gats, stats, ...) */
	MCF_BINARY = 1u << 2,
	MCF_QUIET = 1u << 3, /* binary quiet opcode: no reply unless miss/error */
	MCF_STAT = 1u << 4,  /* binary Stat: replies until one with an empty key */
};

struct mc_pending {
	uint8_t flags;
	uint32_t opaque;
};

struct mc_dir {
	uint64_t remaining; /* data block bytes still to stream (incl. CRLF for text) */
	uint32_t scanned;   /* PII bytes of the current block */
	bool in_block;
};

struct mc_state {
	struct mc_dir d[2];
	/* request side: the record of a storage command whose data block streams, finished
	 * at its end when noreply (a slot of the engine's pairing queue) */
	struct query_record *req_rec;
	bool req_noreply;
	bool resp_finish_after_block; /* a VA block ends its meta get */
	uint8_t ring_head;
	uint8_t ring_count;
	struct mc_pending ring[MC_PENDING];
};

static const uint16_t mc_ports[] = {11211, 0};

static struct parse_result result(enum parse_status s, uint32_t consumed, uint32_t needed)
{
	return (struct parse_result){s, consumed, needed};
}

/* ---- pairing ---- */

static void ring_push(struct mc_state *st, uint8_t flags, uint32_t opaque)
{
	if (st->ring_count == MC_PENDING)
		return;
	st->ring[(st->ring_head + st->ring_count) % MC_PENDING] =
		(struct mc_pending){.flags = flags, .opaque = opaque};
	st->ring_count++;
}

static struct mc_pending *ring_oldest(struct mc_state *st)
{
	return st->ring_count ? &st->ring[st->ring_head] : NULL;
}

static struct query_record *oldest_rec(struct parse_ctx *ctx, struct mc_state *st)
{
	struct mc_pending *p = ring_oldest(st);

	return p && (p->flags & MCF_RECORD) ? record_oldest(ctx) : NULL;
}

static void finish_oldest(struct parse_ctx *ctx, struct mc_state *st, enum record_status status)
{
	struct query_record *rec = oldest_rec(ctx, st);

	if (!st->ring_count)
		return;
	st->ring_head = (uint8_t)((st->ring_head + 1) % MC_PENDING);
	st->ring_count--;
	if (rec == st->req_rec)
		st->req_rec = NULL;
	record_finish(ctx, rec, status);
}

/* ---- text protocol ---- */

#define MC_TOKENS 24

struct tokens {
	const uint8_t *t[MC_TOKENS];
	uint32_t len[MC_TOKENS];
	uint32_t n;
};

static void tokenize(const uint8_t *l, uint32_t n, struct tokens *tk)
{
	uint32_t i = 0;

	tk->n = 0;
	while (i < n && tk->n < MC_TOKENS) {
		while (i < n && l[i] == ' ')
			i++;
		if (i == n)
			break;
		tk->t[tk->n] = l + i;
		while (i < n && l[i] != ' ')
			i++;
		tk->len[tk->n] = (uint32_t)(l + i - tk->t[tk->n]);
		tk->n++;
	}
}

static bool tok_is(const struct tokens *tk, uint32_t i, const char *s)
{
	return i < tk->n && tk->len[i] == strlen(s) && memcmp(tk->t[i], s, tk->len[i]) == 0;
}

static bool tok_num(const struct tokens *tk, uint32_t i, uint64_t *v)
{
	*v = 0;
	if (i >= tk->n || tk->len[i] == 0 || tk->len[i] > 19)
		return false;
	for (uint32_t k = 0; k < tk->len[i]; k++) {
		if (tk->t[i][k] < '0' || tk->t[i][k] > '9')
			return false;
		*v = *v * 10 + (uint64_t)(tk->t[i][k] - '0');
	}
	return true;
}

static const char *const storage_cmds[] = {"set", "add", "replace", "append", "prepend", "cas"};
static const char *const multi_cmds[] = {"get", "gets", "gat", "gats", "stats", "lru_crawler"};

/* Streams a data block's bytes: PII for the first ones, counted in the record. */
static void block_bytes(struct parse_ctx *ctx, struct mc_state *st, enum dir dir,
			struct query_record *rec, const uint8_t *p, uint32_t n)
{
	struct mc_dir *d = &st->d[dir];
	uint32_t data = n;

	/* the last two bytes of a text block are its CRLF, not the value */
	if (d->remaining - n < 2)
		data = d->remaining > 2 ? (uint32_t)(d->remaining - 2 < n ? d->remaining - 2 : n)
					: 0;
	record_add_bytes(rec, dir, n);
	if (d->scanned == 0) {
		uint32_t k = MC_VALUE_SCAN < data ? MC_VALUE_SCAN : data;

		if (k)
			record_value(ctx, rec, dir == DIR_REQUEST ? VALUE_PARAM : VALUE_RESULT,
				     NULL, 0, p, k);
		d->scanned = 1; /* the head went (once per block) */
	}
}

static struct parse_result text_request(struct parse_ctx *ctx, struct mc_state *st,
					const uint8_t *p, uint32_t len)
{
	struct query_record *rec;
	struct tokens tk;
	uint32_t total;
	int64_t ll = wire_line(p, len, &total);
	uint64_t bytes = 0;
	uint8_t flags = 0;
	bool storage = false, noreply = false, meta;

	if (ll < 0)
		return len > MC_LINE_MAX ? result(PARSE_LOST, 0, 0)
					 : result(PARSE_MORE, 0, len + 1);
	if (ll == 0)
		return result(PARSE_OK, total, 0);
	tokenize(p, (uint32_t)ll, &tk);
	if (tk.n == 0)
		return result(PARSE_OK, total, 0);
	rec = record_begin(ctx);
	record_set_str(rec, RS_QUERY, p, (size_t)ll);
	record_set_str(rec, RS_COMMAND, tk.t[0], tk.len[0]);
	record_add_bytes(rec, DIR_REQUEST, total);
	if (tk.n > 1)
		record_value(ctx, rec, VALUE_KEY, NULL, 0, tk.t[1], tk.len[1]);
	for (size_t i = 0; i < sizeof(storage_cmds) / sizeof(storage_cmds[0]); i++)
		if (tok_is(&tk, 0, storage_cmds[i])) {
			/* <cmd> <key> <flags> <exptime> <bytes> [<cas unique>] [noreply] */
			storage = tok_num(&tk, 4, &bytes);
			noreply = tok_is(&tk, tk.n - 1, "noreply");
		}
	for (size_t i = 0; i < sizeof(multi_cmds) / sizeof(multi_cmds[0]); i++)
		if (tok_is(&tk, 0, multi_cmds[i]))
			flags |= MCF_MULTI;
	meta = tk.len[0] == 2 && tk.t[0][0] == 'm';
	if (meta) {
		/* meta commands: ms <key> <datalen> <flags>*; flag q suppresses the reply */
		if (tok_is(&tk, 0, "ms"))
			storage = tok_num(&tk, 2, &bytes);
		for (uint32_t i = 2; i < tk.n; i++)
			if (tk.len[i] == 1 && tk.t[i][0] == 'q')
				noreply = true;
	} else if (!storage) {
		noreply = tok_is(&tk, tk.n - 1, "noreply");
	}
	if (tok_is(&tk, 0, "quit"))
		noreply = true;
	if (storage) {
		st->d[DIR_REQUEST].remaining = bytes + 2;
		st->d[DIR_REQUEST].scanned = 0;
		st->d[DIR_REQUEST].in_block = true;
		st->req_rec = rec;
		st->req_noreply = noreply;
	} else if (noreply) {
		record_finish(ctx, rec, RECORD_OK);
	}
	if (!noreply)
		ring_push(st, (uint8_t)(flags | (rec ? MCF_RECORD : 0)), 0);
	return result(PARSE_OK, total, 0);
}

static bool line_is(const uint8_t *l, int64_t n, const char *s)
{
	size_t k = strlen(s);

	return (size_t)n >= k && memcmp(l, s, k) == 0 && ((size_t)n == k || l[k] == ' ');
}

static struct parse_result text_response(struct parse_ctx *ctx, struct mc_state *st,
					 const uint8_t *p, uint32_t len)
{
	struct mc_pending *pend = ring_oldest(st);
	struct query_record *rec = oldest_rec(ctx, st);
	struct tokens tk;
	uint32_t total;
	int64_t ll = wire_line(p, len, &total);
	uint64_t bytes;

	if (ll < 0)
		return len > MC_LINE_MAX ? result(PARSE_LOST, 0, 0)
					 : result(PARSE_MORE, 0, len + 1);
	if (!pend) {
		parse_count(ctx, MC_UNMATCHED);
		/* a value block nobody asked for still has to be skipped by length */
	}
	record_add_bytes(rec, DIR_RESPONSE, total);
	tokenize(p, (uint32_t)ll, &tk);
	if (line_is(p, ll, "VALUE") || line_is(p, ll, "VA")) {
		/* VALUE <key> <flags> <bytes> [<cas>] / VA <size> <flags>* */
		bool va = line_is(p, ll, "VA");

		if (!tok_num(&tk, va ? 1 : 3, &bytes)) {
			parse_count(ctx, MC_MALFORMED);
			return result(PARSE_LOST, 0, 0);
		}
		if (rec) {
			if (!(rec->int_set & (1u << RI_ROWS)))
				record_set_int(rec, RI_ROWS, 0);
			rec->ints[RI_ROWS]++;
		}
		st->d[DIR_RESPONSE].remaining = bytes + 2;
		st->d[DIR_RESPONSE].scanned = 0;
		st->d[DIR_RESPONSE].in_block = true;
		st->resp_finish_after_block = va && pend && !(pend->flags & MCF_MULTI);
		return result(PARSE_OK, total, 0);
	}
	if (!pend)
		return result(PARSE_OK, total, 0);
	if (line_is(p, ll, "ERROR") || line_is(p, ll, "CLIENT_ERROR") ||
	    line_is(p, ll, "SERVER_ERROR")) {
		record_set_str(rec, RS_ERROR_CODE, tk.t[0], tk.len[0]);
		if (tk.n > 1)
			record_set_str(rec, RS_ERROR_MESSAGE, tk.t[1], (size_t)(p + ll - tk.t[1]));
		finish_oldest(ctx, st, RECORD_ERROR);
		return result(PARSE_OK, total, 0);
	}
	if (pend->flags & MCF_MULTI) {
		/* STAT / ITEM / metadump lines until END: each is a row */
		if (rec && !(rec->int_set & (1u << RI_ROWS)))
			record_set_int(rec, RI_ROWS, 0);
		if (line_is(p, ll, "END"))
			finish_oldest(ctx, st, RECORD_OK);
		else if (rec)
			rec->ints[RI_ROWS]++;
		return result(PARSE_OK, total, 0);
	}
	finish_oldest(ctx, st, RECORD_OK); /* STORED, DELETED, a number, VERSION, HD, EN, ... */
	return result(PARSE_OK, total, 0);
}

/* ---- binary protocol ---- */

static const char *const bin_ops[] = {
	[0x00] = "get",	      [0x01] = "set",	    [0x02] = "add",	 [0x03] = "replace",
	[0x04] = "delete",    [0x05] = "incr",	    [0x06] = "decr",	 [0x07] = "quit",
	[0x08] = "flush",     [0x09] = "getq",	    [0x0a] = "noop",	 [0x0b] = "version",
	[0x0c] = "getk",      [0x0d] = "getkq",	    [0x0e] = "append",	 [0x0f] = "prepend",
	[0x10] = "stat",      [0x11] = "setq",	    [0x12] = "addq",	 [0x13] = "replaceq",
	[0x14] = "deleteq",   [0x15] = "incrq",	    [0x16] = "decrq",	 [0x17] = "quitq",
	[0x18] = "flushq",    [0x19] = "appendq",   [0x1a] = "prependq", [0x1b] = "verbosity",
	[0x1c] = "touch",     [0x1d] = "gat",	    [0x1e] = "gatq",	 [0x20] = "sasl_list",
	[0x21] = "sasl_auth", [0x22] = "sasl_step",
};

/* Retrievals: a value in the reply is a row. */
static bool bin_get(uint8_t op)
{
	return op == 0x00 || op == 0x09 || op == 0x0c || op == 0x0d || op == 0x1d || op == 0x1e;
}

static bool bin_quiet(uint8_t op)
{
	return op == 0x09 || op == 0x0d || (op >= 0x11 && op <= 0x1a) || op == 0x1e;
}

static const char *bin_status(uint16_t s, char *buf, size_t cap)
{
	switch (s) {
	case 0x01:
		return "KEY_ENOENT";
	case 0x02:
		return "KEY_EEXISTS";
	case 0x03:
		return "E2BIG";
	case 0x04:
		return "EINVAL";
	case 0x05:
		return "NOT_STORED";
	case 0x06:
		return "DELTA_BADVAL";
	case 0x20:
		return "AUTH_ERROR";
	case 0x81:
		return "UNKNOWN_COMMAND";
	case 0x82:
		return "ENOMEM";
	default:
		snprintf(buf, cap, "0x%04x", s);
		return buf;
	}
}

struct bin_header {
	uint8_t magic, opcode, extras, data_type;
	uint16_t key_len, status;
	uint32_t body, opaque;
};

static void bin_header_read(const uint8_t *p, struct bin_header *h)
{
	struct wire w = wire_init(p, MC_BIN_HEADER);

	h->magic = wire_u8(&w);
	h->opcode = wire_u8(&w);
	h->key_len = wire_u16be(&w);
	h->extras = wire_u8(&w);
	h->data_type = wire_u8(&w);
	h->status = wire_u16be(&w);
	h->body = wire_u32be(&w);
	h->opaque = wire_u32be(&w);
}

/*
 * A binary message: the header, extras and key must be here (they are small); the value
 * streams as a block.
 */
static struct parse_result bin_message(struct parse_ctx *ctx, struct mc_state *st, enum dir dir,
				       const uint8_t *p, uint32_t len)
{
	struct bin_header h;
	uint32_t head;

	if (len < MC_BIN_HEADER)
		return result(PARSE_MORE, 0, MC_BIN_HEADER);
	bin_header_read(p, &h);
	if ((uint32_t)h.extras + h.key_len > h.body ||
	    h.magic != (dir == DIR_REQUEST ? 0x80 : 0x81)) {
		parse_count(ctx, MC_MALFORMED);
		return result(PARSE_LOST, 0, 0);
	}
	head = MC_BIN_HEADER + h.extras + h.key_len;
	if (len < head)
		return result(PARSE_MORE, 0, head);
	if (dir == DIR_REQUEST) {
		struct query_record *rec = record_begin(ctx);
		const char *op =
			h.opcode < sizeof(bin_ops) / sizeof(bin_ops[0]) && bin_ops[h.opcode]
				? bin_ops[h.opcode]
				: "unknown";
		char q[300];
		size_t n = strlen(op);
		uint8_t flags = MCF_BINARY | (rec ? MCF_RECORD : 0);

		memcpy(q, op, n);
		if (h.key_len) {
			size_t k = h.key_len < sizeof(q) - n - 1 ? h.key_len : sizeof(q) - n - 1;

			q[n++] = ' ';
			memcpy(q + n, p + MC_BIN_HEADER + h.extras, k);
			n += k;
			record_value(ctx, rec, VALUE_KEY, NULL, 0, p + MC_BIN_HEADER + h.extras,
				     h.key_len);
		}
		record_set_str(rec, RS_QUERY, q, n);
		record_set_cstr(rec, RS_COMMAND, op);
		record_add_bytes(rec, DIR_REQUEST, head);
		if (bin_quiet(h.opcode))
			flags |= MCF_QUIET;
		if (h.opcode == 0x10)
			flags |= MCF_STAT;
		if (h.opcode == 0x07 || h.opcode == 0x17) { /* quit: no answer to wait for */
			record_finish(ctx, rec, RECORD_OK);
		} else {
			ring_push(st, flags, h.opaque);
		}
		st->req_rec = NULL;
	} else {
		struct mc_pending *pend;
		struct query_record *rec;
		char buf[16];

		/* quiet commands the server went past without answering succeeded (or missed) */
		while ((pend = ring_oldest(st)) && pend->opaque != h.opaque &&
		       (pend->flags & MCF_QUIET))
			finish_oldest(ctx, st, RECORD_OK);
		pend = ring_oldest(st);
		if (!pend || pend->opaque != h.opaque) {
			parse_count(ctx, MC_UNMATCHED);
			rec = NULL;
		} else {
			rec = oldest_rec(ctx, st);
		}
		record_add_bytes(rec, DIR_RESPONSE, head);
		if (rec && h.status == 0 && h.body > head - MC_BIN_HEADER && bin_get(h.opcode)) {
			if (!(rec->int_set & (1u << RI_ROWS)))
				record_set_int(rec, RI_ROWS, 0);
			rec->ints[RI_ROWS]++;
		}
		if (pend && pend->opaque == h.opaque) {
			if (h.status == 0x01 && bin_get(h.opcode)) {
				/* a miss is an answer, not a failure: no rows */
				if (rec && !(rec->int_set & (1u << RI_ROWS)))
					record_set_int(rec, RI_ROWS, 0);
				st->resp_finish_after_block = true;
			} else if (h.status) {
				record_set_cstr(rec, RS_ERROR_CODE,
						bin_status(h.status, buf, sizeof(buf)));
				st->resp_finish_after_block = true;
			} else if (!(pend->flags & MCF_STAT) || h.key_len == 0) {
				st->resp_finish_after_block = true;
			}
		}
		if (h.status && !(h.status == 0x01 && bin_get(h.opcode)) && rec)
			rec->status = RECORD_ERROR;
	}
	/* the value streams as a block (no CRLF in binary) */
	st->d[dir].remaining = h.body - h.extras - h.key_len;
	st->d[dir].scanned = 0;
	st->d[dir].in_block = true;
	if (st->d[dir].remaining == 0) {
		st->d[dir].in_block = false;
		if (dir == DIR_RESPONSE && st->resp_finish_after_block) {
			struct query_record *rec = oldest_rec(ctx, st);

			st->resp_finish_after_block = false;
			finish_oldest(ctx, st,
				      rec && rec->status == RECORD_ERROR ? RECORD_ERROR
									 : RECORD_OK);
		}
	}
	return result(PARSE_OK, head, 0);
}

/* ---- the message loop ---- */

static struct parse_result mc_on_data(struct parse_ctx *ctx, void *state, enum dir dir,
				      const uint8_t *p, uint32_t len)
{
	struct mc_state *st = state;
	struct mc_dir *d = &st->d[dir];

	if (d->in_block) {
		uint32_t n = d->remaining < len ? (uint32_t)d->remaining : len;

		if (d->scanned == 0) {
			/* the scanned head of a value in one piece, whatever the segmentation */
			uint32_t want = d->remaining < MC_VALUE_SCAN + 2 ? (uint32_t)d->remaining
									 : MC_VALUE_SCAN + 2;

			if (len < want)
				return result(PARSE_MORE, 0, want);
			n = want;
		}
		struct query_record *rec = dir == DIR_REQUEST ? st->req_rec : oldest_rec(ctx, st);
		bool binary = dir == DIR_RESPONSE && ring_oldest(st) &&
			      (ring_oldest(st)->flags & MCF_BINARY);

		if (dir == DIR_RESPONSE && !ring_oldest(st))
			rec = NULL;
		block_bytes(ctx, st, dir, rec, p, n);
		d->remaining -= n;
		if (d->remaining)
			return result(PARSE_OK, n, 0);
		d->in_block = false;
		if (dir == DIR_REQUEST) {
			if (st->req_noreply && st->req_rec)
				record_finish(ctx, st->req_rec, RECORD_OK);
			st->req_rec = NULL;
		} else if (st->resp_finish_after_block) {
			st->resp_finish_after_block = false;
			finish_oldest(ctx, st,
				      binary && rec && rec->status == RECORD_ERROR ? RECORD_ERROR
										   : RECORD_OK);
		}
		return result(PARSE_OK, n, 0);
	}
	if (p[0] == 0x80 || p[0] == 0x81)
		return bin_message(ctx, st, dir, p, len);
	return dir == DIR_REQUEST ? text_request(ctx, st, p, len) : text_response(ctx, st, p, len);
}

static void mc_on_gap(struct parse_ctx *ctx, void *state, enum dir dir, uint64_t missing)
{
	struct mc_state *st = state;

	if (st->d[dir].in_block && missing < st->d[dir].remaining) {
		st->d[dir].remaining -= missing;
		return;
	}
	parse_give_up(ctx);
}

/* ---- detection ---- */

static const char *const text_cmds[] = {
	"get ",	     "gets ",	   "set ",  "add ",   "replace ", "append ", "prepend ", "cas ",
	"delete ",   "incr ",	   "decr ", "touch ", "gat ",	  "gats ",   "stats",	 "version",
	"flush_all", "verbosity ", "mg ",   "ms ",    "md ",	  "ma ",     "mn",	 "me ",
};

static int mc_detect(const uint8_t *p, uint32_t len, enum dir dir)
{
	const uint8_t *nl;

	if (dir == DIR_RESPONSE)
		return DETECT_NOT_MINE;
	if (p[0] == 0x80) {
		struct bin_header h;

		if (len < MC_BIN_HEADER)
			return DETECT_NEED_MORE;
		bin_header_read(p, &h);
		/* BinaryProtocolRevamped: a known opcode, raw data type, lengths that fit */
		return h.data_type == 0 && h.opcode <= 0x22 &&
				       (uint32_t)h.extras + h.key_len <= h.body &&
				       h.body < (1u << 24)
			       ? 80
			       : DETECT_NOT_MINE;
	}
	nl = memchr(p, '\n', len);
	for (size_t i = 0; i < sizeof(text_cmds) / sizeof(text_cmds[0]); i++) {
		size_t n = strlen(text_cmds[i]);

		if (len < n) {
			if (memcmp(p, text_cmds[i], len) == 0)
				return DETECT_NEED_MORE;
			continue;
		}
		if (memcmp(p, text_cmds[i], n) != 0)
			continue;
		if (!nl)
			return len < 512 ? DETECT_NEED_MORE : DETECT_NOT_MINE;
		/* lowercase commands ending in CRLF: Redis inline commands are upper case */
		return nl > p && nl[-1] == '\r' ? 60 : 30;
	}
	return DETECT_NOT_MINE;
}

const struct parser memcached_parser = {
	.name = "memcached",
	.flags = 0,
	.ports = mc_ports,
	.state_size = sizeof(struct mc_state),
	.detect = mc_detect,
	.on_data = mc_on_data,
	.on_gap = mc_on_gap,
	.on_close = NULL,
	.counter_defs = mc_counter_defs,
	.counter_count = MC_COUNTERS,
};
