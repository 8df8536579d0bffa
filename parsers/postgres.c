/*
 * PostgreSQL frontend/backend protocol 3.0 (PostgreSQL 15 documentation, chapter 55):
 * one record per statement with its text, bind parameters, columns, row count, command
 * tag or error, and the login (user, database, application, authentication method and
 * outcome) as a record of its own.
 *
 * Pairing (55.2): the server answers in order. Requests are grouped the way the server
 * closes them with ReadyForQuery: a simple Query message is one group (one record per
 * statement in it), an extended-protocol batch up to Sync is one group (one record per
 * Execute, or one for a Parse that is not executed). CommandComplete, EmptyQueryResponse,
 * PortalSuspended and ErrorResponse finish the oldest record of the oldest group;
 * ReadyForQuery closes the group: records it still holds are finished as ok (a Parse
 * that completed) or, after an error, dropped (the server skipped them; counted).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "counters.h"
#include "parser.h"
#include "stmt_cache.h"
#include "wire.h"

#define PG_PROTOCOL_3	  196608u
#define PG_SSL_REQUEST	  80877103u
#define PG_GSSENC_REQUEST 80877104u
#define PG_CANCEL_REQUEST 80877102u
#define PG_STARTUP_MAX	  10000u
#define PG_GROUPS	  128 /* batches awaiting ReadyForQuery; pending records are fewer */
#define PG_STATEMENTS_MAX 64
#define PG_NAME_MAX	  64
#define PG_BIND_BYTES	  2048

enum pg_counter {
	PG_MALFORMED,
	PG_UNKNOWN_MESSAGE,
	PG_SKIPPED_AFTER_ERROR,
	PG_OVERSIZE_SKIPPED,
	PG_UNMATCHED,
	PG_ENCRYPTED,
	PG_PIPELINE_OVERFLOW,
	PG_COUNTERS,
};

static const struct counter_def pg_counter_defs[PG_COUNTERS] = {
	[PG_MALFORMED] = {"postgres_malformed_total",
			  "Messages whose fields did not fit their length"},
	[PG_UNKNOWN_MESSAGE] = {"postgres_unknown_message_total",
				"Unknown message types (connection given up)"},
	[PG_SKIPPED_AFTER_ERROR] = {"postgres_skipped_after_error_total",
				    "Statements the server skipped after an error in their batch"},
	[PG_OVERSIZE_SKIPPED] =
		{"postgres_oversize_total",
		 "Messages longer than parsers.buffer_bytes (head kept, rest skipped)"},
	[PG_UNMATCHED] = {"postgres_unmatched_responses_total",
			  "Responses with no request waiting for them"},
	[PG_ENCRYPTED] = {"postgres_ssl_total", "Connections switched to TLS by SSLRequest"},
	[PG_PIPELINE_OVERFLOW] = {"postgres_pipeline_overflow_total",
				  "Connections with more batches in flight than can be paired "
				  "(parsing stopped)"},
};

enum pg_phase {
	PG_PHASE_STARTUP, /* the next client message has no type byte */
	PG_PHASE_TYPED,
};

struct pg_group {
	uint16_t records; /* records of this group not yet finished */
	bool error;	  /* an ErrorResponse arrived: the rest up to Sync was skipped */
	bool unreported;  /* a record could not be allocated: responses are not paired */
};

struct pg_state {
	uint8_t phase;
	uint8_t ssl_requested; /* SSLRequest (1) or GSSENCRequest (2) awaits its one-byte reply */
	bool ext_open;	       /* extended-protocol messages since the last Sync */
	bool ext_executed;     /* an Execute in the open batch */
	bool bind_valid;
	uint8_t user_len, db_len, app_len, auth_len, parse_name_len, bind_stmt_len;
	uint8_t skip_type[2];
	uint32_t skip[2]; /* bytes of an oversize message still to skip */
	char user[PG_NAME_MAX];
	char db[PG_NAME_MAX];
	char app[PG_NAME_MAX];
	char auth[32];
	char parse_name[PG_NAME_MAX]; /* the last Parse of the open batch */
	bool parse_pending;	      /* a Parse in the open batch not followed by Execute */
	char bind_stmt[PG_NAME_MAX];
	uint16_t bind_count;
	uint16_t bind_len;
	char bind[PG_BIND_BYTES];   /* rendered parameters: u16 length, bytes; repeated */
	uint32_t pending_req_bytes; /* Parse/Bind/Describe bytes before the record exists */
	uint8_t group_head;
	uint8_t group_count;
	struct pg_group groups[PG_GROUPS];
};

static const uint16_t pg_ports[] = {5432, 5433, 0};

/* ---- detection ---- */

static int pg_detect(const uint8_t *p, uint32_t len, enum dir dir)
{
	struct wire w = wire_init(p, len);
	uint32_t msg_len, code;

	if (dir == DIR_REQUEST) {
		if (len < 8)
			return DETECT_NEED_MORE;
		msg_len = wire_u32be(&w);
		code = wire_u32be(&w);
		if ((code == PG_SSL_REQUEST || code == PG_GSSENC_REQUEST) && msg_len == 8)
			return 100;
		if (code == PG_CANCEL_REQUEST && msg_len == 16)
			return 100;
		if (code == PG_PROTOCOL_3 && msg_len >= 8 && msg_len <= PG_STARTUP_MAX)
			return 100;
		/* joined mid-stream: a typed message with a plausible length */
		msg_len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
		if ((p[0] == 'Q' || p[0] == 'P') && msg_len >= 5 && msg_len < (1u << 24)) {
			if (len < 1 + msg_len)
				return len >= 64 ? 30 : DETECT_NEED_MORE;
			return p[msg_len] == 0 ? 60 : DETECT_NOT_MINE;
		}
		return DETECT_NOT_MINE;
	}
	if (len < 5)
		return DETECT_NEED_MORE;
	msg_len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	if (p[0] == 'R' && msg_len >= 8 && msg_len < 1024)
		return 70;
	return DETECT_NOT_MINE;
}

/* ---- groups ---- */

static struct pg_group *group_oldest(struct pg_state *st)
{
	return st->group_count ? &st->groups[st->group_head] : NULL;
}

static struct pg_group *group_new(struct parse_ctx *ctx, struct pg_state *st)
{
	struct pg_group *g;

	if (st->group_count == PG_GROUPS) {
		/* ReadyForQuery could no longer be matched to its batch: stop, counted */
		parse_count(ctx, PG_PIPELINE_OVERFLOW);
		parse_give_up(ctx);
		return NULL;
	}
	g = &st->groups[(st->group_head + st->group_count) % PG_GROUPS];
	st->group_count++;
	memset(g, 0, sizeof(*g));
	return g;
}

static struct pg_group *group_newest(struct pg_state *st)
{
	return st->group_count ? &st->groups[(st->group_head + st->group_count - 1) % PG_GROUPS]
			       : NULL;
}

/* The record a response belongs to: the oldest of the oldest group, if it has one. */
static struct query_record *response_target(struct parse_ctx *ctx, struct pg_state *st)
{
	struct pg_group *g = group_oldest(st);

	if (!g || g->unreported || g->records == 0)
		return NULL;
	return record_oldest(ctx);
}

static void response_finish(struct parse_ctx *ctx, struct pg_state *st, struct query_record *rec,
			    enum record_status status)
{
	struct pg_group *g = group_oldest(st);

	record_finish(ctx, rec, status);
	if (g && g->records)
		g->records--;
}

/* ReadyForQuery: the oldest group is complete. */
static void group_close(struct parse_ctx *ctx, struct pg_state *st)
{
	struct pg_group *g = group_oldest(st);

	if (!g)
		return;
	while (g->records) {
		struct query_record *rec = record_oldest(ctx);

		if (!g->unreported && !g->error) {
			record_finish(ctx, rec, RECORD_OK); /* a Parse that completed, a login */
		} else {
			if (!g->unreported)
				parse_count(ctx, PG_SKIPPED_AFTER_ERROR);
			record_discard(ctx, rec);
		}
		g->records--;
	}
	st->group_head = (uint8_t)((st->group_head + 1) % PG_GROUPS);
	st->group_count--;
}

/* A new record in group g, with the connection's identity fields. */
static struct query_record *group_record(struct parse_ctx *ctx, struct pg_state *st,
					 struct pg_group *g)
{
	struct query_record *rec;

	if (!g)
		return NULL;
	if (g->unreported)
		return NULL;
	rec = record_begin(ctx);
	if (!rec) {
		/* responses can no longer be paired inside this group: report none of it */
		g->unreported = true;
		return NULL;
	}
	g->records++;
	record_add_bytes(rec, DIR_REQUEST, st->pending_req_bytes);
	st->pending_req_bytes = 0;
	if (st->db_len)
		record_set_str(rec, RS_DB, st->db, st->db_len);
	if (st->user_len)
		record_set_str(rec, RS_USER, st->user, st->user_len);
	if (st->app_len)
		record_set_str(rec, RS_APPLICATION, st->app, st->app_len);
	return rec;
}

static void copy_name(char *dst, uint8_t *dst_len, size_t cap, const char *s, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, s, len);
	*dst_len = (uint8_t)len;
}

/* ---- requests ---- */

/* Startup message (55.7 StartupMessage): user, database, application_name. */
static void pg_startup(struct parse_ctx *ctx, struct pg_state *st, struct wire *w)
{
	struct query_record *rec;

	for (;;) {
		size_t klen, vlen;
		const char *key = wire_cstr(w, &klen);
		const char *val;

		if (w->bad || klen == 0)
			break;
		val = wire_cstr(w, &vlen);
		if (w->bad)
			break;
		if (klen == 4 && memcmp(key, "user", 4) == 0)
			copy_name(st->user, &st->user_len, sizeof(st->user), val, vlen);
		else if (klen == 8 && memcmp(key, "database", 8) == 0)
			copy_name(st->db, &st->db_len, sizeof(st->db), val, vlen);
		else if (klen == 16 && memcmp(key, "application_name", 16) == 0)
			copy_name(st->app, &st->app_len, sizeof(st->app), val, vlen);
	}
	if (!st->db_len) /* the server defaults the database to the user name */
		copy_name(st->db, &st->db_len, sizeof(st->db), st->user, st->user_len);
	rec = group_record(ctx, st, group_new(ctx, st));
	record_set_cstr(rec, RS_COMMAND, "LOGIN");
}

static struct parse_result pg_untyped(struct parse_ctx *ctx, struct pg_state *st, const uint8_t *p,
				      uint32_t len)
{
	struct wire w = wire_init(p, len);
	uint32_t msg_len, code;

	if (len < 8)
		return (struct parse_result){PARSE_MORE, 0, 8};
	msg_len = wire_u32be(&w);
	code = wire_u32be(&w);
	if (msg_len < 8 || msg_len > PG_STARTUP_MAX)
		return (struct parse_result){PARSE_LOST, 0, 0};
	if (len < msg_len)
		return (struct parse_result){PARSE_MORE, 0, msg_len};
	w = wire_init(p + 8, msg_len - 8);
	if (code == PG_SSL_REQUEST || code == PG_GSSENC_REQUEST) {
		st->ssl_requested = code == PG_SSL_REQUEST ? 1 : 2;
	} else if (code == PG_CANCEL_REQUEST) {
		struct query_record *rec = record_begin(ctx);

		record_set_cstr(rec, RS_COMMAND, "CANCEL");
		record_add_bytes(rec, DIR_REQUEST, msg_len);
		record_finish(ctx, rec, RECORD_OK);
	} else if (code == PG_PROTOCOL_3) {
		pg_startup(ctx, st, &w);
		st->phase = PG_PHASE_TYPED;
		record_add_bytes(record_oldest(ctx), DIR_REQUEST, msg_len);
	} else {
		return (struct parse_result){PARSE_LOST, 0, 0};
	}
	return (struct parse_result){PARSE_OK, msg_len, 0};
}

/*
 * Splits a simple Query into its statements at top-level semicolons (not inside quotes,
 * dollar quotes or comments); statements that are only whitespace or comments are not
 * statements for the server either. Returns the count; the last one keeps any excess.
 */
static uint32_t pg_split(const char *q, size_t len, uint32_t start[], uint32_t end[], uint32_t max)
{
	uint32_t n = 0, s = 0;
	bool content = false;

	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? q[i] : ';';

		if (i < len && (c == '\'' || c == '"')) {
			for (i++; i < len && q[i] != c; i++)
				;
			content = true;
			continue;
		}
		if (i + 1 < len && c == '-' && q[i + 1] == '-') {
			while (i < len && q[i] != '\n')
				i++;
			continue;
		}
		if (i + 1 < len && c == '/' && q[i + 1] == '*') {
			for (i += 2; i + 1 < len && !(q[i] == '*' && q[i + 1] == '/'); i++)
				;
			i++;
			continue;
		}
		if (c == '$' && i < len) {
			size_t t = i + 1;

			while (t < len && (q[t] == '_' || (q[t] >= 'a' && q[t] <= 'z') ||
					   (q[t] >= 'A' && q[t] <= 'Z')))
				t++;
			if (t < len && q[t] == '$') {
				size_t tag = t - i + 1;

				for (t++; t + tag <= len && memcmp(q + t, q + i, tag) != 0; t++)
					;
				i = t + tag - 1;
				content = true;
				continue;
			}
		}
		if (c != ';') {
			if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
				content = true;
			continue;
		}
		if (content) {
			uint32_t a = s, b = (uint32_t)(i < len ? i : len);

			while (a < b &&
			       (q[a] == ' ' || q[a] == '\n' || q[a] == '\t' || q[a] == '\r'))
				a++;
			if (n == max) {
				end[n - 1] =
					b; /* more statements than slots: the last takes the rest */
			} else {
				start[n] = a;
				end[n] = b;
				n++;
			}
		}
		s = (uint32_t)i + 1;
		content = false;
	}
	return n;
}

static void pg_query(struct parse_ctx *ctx, struct pg_state *st, struct wire *w, uint32_t msg_len,
		     bool truncated)
{
	uint32_t start[PG_STATEMENTS_MAX], end[PG_STATEMENTS_MAX], n;
	struct pg_group *g = group_new(ctx, st);
	size_t qlen;
	const char *q;

	if (truncated) { /* only the head of a huge query is here: no terminator to find */
		qlen = wire_left(w);
		q = (const char *)wire_bytes(w, qlen);
	} else {
		q = wire_cstr(w, &qlen);
	}
	n = pg_split(q, qlen, start, end, PG_STATEMENTS_MAX);
	if (n == 0) { /* an empty query: the server answers EmptyQueryResponse */
		start[0] = end[0] = 0;
		n = 1;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct query_record *rec = group_record(ctx, st, g);

		record_set_str(rec, RS_QUERY, q + start[i], end[i] - start[i]);
		record_value(ctx, rec, VALUE_QUERY, NULL, 0, (const uint8_t *)q + start[i],
			     end[i] - start[i]);
		/* the message's bytes belong to the first of its statements */
		record_add_bytes(rec, DIR_REQUEST, i == 0 ? msg_len : 0);
	}
}

/* The open extended-protocol batch (a group closed by Sync's ReadyForQuery). */
static struct pg_group *ext_group(struct parse_ctx *ctx, struct pg_state *st)
{
	if (!st->ext_open) {
		if (!group_new(ctx, st))
			return NULL;
		st->ext_open = true;
		st->ext_executed = false;
		st->parse_pending = false;
	}
	return group_newest(st);
}

/* Parse (55.7): statement name, query text, parameter type OIDs. */
static void pg_parse_msg(struct parse_ctx *ctx, struct pg_state *st, struct wire *w)
{
	size_t name_len, qlen;
	const char *name = wire_cstr(w, &name_len);
	const char *q = wire_cstr(w, &qlen);
	uint16_t nparams = wire_u16be(w);
	struct stmt_entry *e;

	if (w->bad)
		return;
	ext_group(ctx, st);
	e = parse_stmt_store(ctx, name, name_len);
	e->truncated = qlen > STMT_TEXT_MAX;
	e->text_len = (uint16_t)(e->truncated ? STMT_TEXT_MAX : qlen);
	memcpy(e->text, q, e->text_len);
	for (uint16_t i = 0; i < nparams && !w->bad; i++) {
		uint32_t oid = wire_u32be(w);

		if (i < STMT_PARAMS_MAX)
			e->param_types[e->nparams++] = oid;
	}
	copy_name(st->parse_name, &st->parse_name_len, sizeof(st->parse_name), name, name_len);
	st->parse_pending = true;
}

/* Renders a binary parameter of a common type as text (55.7 Bind, type send functions). */
static size_t pg_format_binary(uint32_t oid, const uint8_t *v, uint32_t len, char *out, size_t cap)
{
	struct wire w = wire_init(v, len);
	int n = -1;

	switch (oid) {
	case 16: /* bool */
		if (len == 1)
			n = snprintf(out, cap, "%s", v[0] ? "true" : "false");
		break;
	case 21: /* int2 */
		if (len == 2)
			n = snprintf(out, cap, "%d", (int16_t)wire_u16be(&w));
		break;
	case 23: /* int4 */
	case 26: /* oid */
		if (len == 4)
			n = snprintf(out, cap, "%" PRId32, (int32_t)wire_u32be(&w));
		break;
	case 20: /* int8 */
		if (len == 8)
			n = snprintf(out, cap, "%" PRId64, (int64_t)wire_u64be(&w));
		break;
	case 700: /* float4 */
		if (len == 4) {
			uint32_t bits = wire_u32be(&w);
			float f;

			memcpy(&f, &bits, 4);
			n = snprintf(out, cap, "%g", (double)f);
		}
		break;
	case 701: /* float8 */
		if (len == 8) {
			uint64_t bits = wire_u64be(&w);
			double d;

			memcpy(&d, &bits, 8);
			n = snprintf(out, cap, "%.17g", d);
		}
		break;
	case 25:   /* text */
	case 1043: /* varchar */
	case 1042: /* bpchar */
	case 19:   /* name */
	case 114:  /* json */
		n = (int)(len < cap ? len : cap);
		memcpy(out, v, (size_t)n);
		return (size_t)n;
	case 2950: /* uuid */
		if (len == 16)
			n = snprintf(out, cap,
				     "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%"
				     "02x%02x",
				     v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9],
				     v[10], v[11], v[12], v[13], v[14], v[15]);
		break;
	default:
		break;
	}
	if (n < 0) { /* another type: its bytes in hex, as PostgreSQL writes bytea */
		size_t o = 0;

		if (cap < 3)
			return 0;
		out[o++] = '\\';
		out[o++] = 'x';
		for (uint32_t i = 0; i < len && o + 2 <= cap; i++) {
			out[o++] = "0123456789abcdef"[v[i] >> 4];
			out[o++] = "0123456789abcdef"[v[i] & 15];
		}
		return o;
	}
	return (size_t)n < cap ? (size_t)n : cap;
}

static void bind_add(struct pg_state *st, const char *s, size_t len)
{
	uint16_t l;

	if (st->bind_len + 2u + len > sizeof(st->bind))
		len = sizeof(st->bind) - st->bind_len >= 2 ? sizeof(st->bind) - st->bind_len - 2
							   : 0;
	if (st->bind_len + 2u > sizeof(st->bind))
		return;
	l = (uint16_t)len;
	memcpy(st->bind + st->bind_len, &l, 2);
	memcpy(st->bind + st->bind_len + 2, s, len);
	st->bind_len = (uint16_t)(st->bind_len + 2 + len);
	st->bind_count++;
}

/* Bind (55.7): portal, statement, parameter formats and values. */
static void pg_bind(struct parse_ctx *ctx, struct pg_state *st, struct wire *w)
{
	size_t portal_len, stmt_len;
	const struct stmt_entry *e;
	uint16_t nfmt, nparams, fmts[STMT_PARAMS_MAX];

	wire_cstr(w, &portal_len);
	const char *stmt = wire_cstr(w, &stmt_len);

	nfmt = wire_u16be(w);
	for (uint16_t i = 0; i < nfmt; i++) {
		uint16_t f = wire_u16be(w);

		if (i < STMT_PARAMS_MAX)
			fmts[i] = f;
	}
	if (w->bad)
		return;
	ext_group(ctx, st);
	e = parse_stmt_find(ctx, stmt, stmt_len);
	copy_name(st->bind_stmt, &st->bind_stmt_len, sizeof(st->bind_stmt), stmt, stmt_len);
	st->bind_count = 0;
	st->bind_len = 0;
	st->bind_valid = true;
	nparams = wire_u16be(w);
	for (uint16_t i = 0; i < nparams && !w->bad; i++) {
		uint32_t vlen = wire_u32be(w);
		uint16_t fmt =
			nfmt == 0 ? 0
				  : (nfmt == 1 ? fmts[0]
					       : (i < nfmt && i < STMT_PARAMS_MAX ? fmts[i] : 0));
		char text[256];
		const uint8_t *v;

		if (vlen == UINT32_MAX) { /* -1: NULL */
			bind_add(st, "NULL", 4);
			continue;
		}
		v = wire_bytes(w, vlen);
		if (!v)
			break;
		if (fmt == 0) {
			bind_add(st, (const char *)v, vlen);
		} else {
			uint32_t oid = e && i < e->nparams ? e->param_types[i] : 0;

			bind_add(st, text, pg_format_binary(oid, v, vlen, text, sizeof(text)));
		}
	}
	if (w->bad)
		parse_count(ctx, PG_MALFORMED);
}

/* Execute (55.7): the bound portal runs; this is the statement's record. */
static void pg_execute(struct parse_ctx *ctx, struct pg_state *st, uint32_t msg_len)
{
	struct pg_group *g = ext_group(ctx, st);
	struct query_record *rec = group_record(ctx, st, g);
	struct stmt_entry *e; /* its parameters' columns are kept with it */
	const char *cols[STMT_PARAMS_MAX];
	uint32_t col_lens[STMT_PARAMS_MAX], off = 0;

	st->ext_executed = true;
	st->parse_pending = false;
	record_add_bytes(rec, DIR_REQUEST, msg_len);
	if (!rec || !st->bind_valid)
		return;
	e = parse_stmt_find(ctx, st->bind_stmt, st->bind_stmt_len);
	if (e) {
		record_set_str(rec, RS_QUERY, e->text, e->text_len);
		record_value(ctx, rec, VALUE_QUERY, NULL, 0, (const uint8_t *)e->text, e->text_len);
	}
	if (st->bind_stmt_len)
		record_set_str(rec, RS_STATEMENT, st->bind_stmt, st->bind_stmt_len);
	record_param_columns(ctx, e, true, cols, col_lens,
			     st->bind_count < STMT_PARAMS_MAX ? st->bind_count : STMT_PARAMS_MAX);
	for (uint16_t i = 0; i < st->bind_count; i++) {
		uint16_t l;

		memcpy(&l, st->bind + off, 2);
		record_list_add(rec, RL_PARAMS, st->bind + off + 2, l);
		record_value(ctx, rec, VALUE_PARAM, i < STMT_PARAMS_MAX ? cols[i] : NULL,
			     i < STMT_PARAMS_MAX ? col_lens[i] : 0,
			     (const uint8_t *)st->bind + off + 2, l);
		off += 2u + l;
	}
}

/* Sync: the batch is complete; a Parse nobody executed is a record of its own. */
static void pg_sync(struct parse_ctx *ctx, struct pg_state *st)
{
	struct pg_group *g = ext_group(ctx, st);

	if (st->parse_pending) {
		struct query_record *rec = group_record(ctx, st, g);
		const struct stmt_entry *e =
			parse_stmt_find(ctx, st->parse_name, st->parse_name_len);

		record_set_cstr(rec, RS_COMMAND, "PARSE");
		if (e)
			record_set_str(rec, RS_QUERY, e->text, e->text_len);
		if (st->parse_name_len)
			record_set_str(rec, RS_STATEMENT, st->parse_name, st->parse_name_len);
	}
	st->ext_open = false;
	st->parse_pending = false;
}

static void pg_request(struct parse_ctx *ctx, struct pg_state *st, uint8_t type, struct wire *w,
		       uint32_t msg_len, bool truncated)
{
	size_t n;

	switch (type) {
	case 'Q':
		pg_query(ctx, st, w, msg_len, truncated);
		return;
	case 'P':
		pg_parse_msg(ctx, st, w);
		break;
	case 'B':
		pg_bind(ctx, st, w);
		break;
	case 'E':
		pg_execute(ctx, st, msg_len);
		return;
	case 'S':
		pg_sync(ctx, st);
		break;
	case 'C': { /* Close: a statement that is closed is forgotten */
		uint8_t what = wire_u8(w);
		const char *name = wire_cstr(w, &n);

		ext_group(ctx, st);
		if (!w->bad && what == 'S')
			parse_stmt_forget(ctx, name, n);
		break;
	}
	case 'D': /* Describe */
	case 'H': /* Flush */
		ext_group(ctx, st);
		break;
	case 'X': /* Terminate */
	case 'p': /* password / SASL response: never looked into */
	case 'd': /* CopyData */
	case 'c': /* CopyDone */
	case 'f': /* CopyFail */
	case 'F': /* FunctionCall */
		/* part of the exchange the server is answering now (login, COPY) */
		record_add_bytes(response_target(ctx, st), DIR_REQUEST, msg_len);
		return;
	default:
		parse_count(ctx, PG_UNKNOWN_MESSAGE);
		return;
	}
	/* an extended-protocol message: counted into the record its batch creates */
	st->pending_req_bytes += msg_len;
}

/* ---- responses ---- */

/* The number at the end of a command tag ("INSERT 0 5" -> 5), or -1. */
static int64_t pg_tag_rows(const char *tag, size_t len)
{
	size_t i = len;
	int64_t v = 0, scale = 1;

	while (i > 0 && tag[i - 1] >= '0' && tag[i - 1] <= '9') {
		v += (tag[i - 1] - '0') * scale;
		scale *= 10;
		i--;
	}
	if (i == len || i == 0 || tag[i - 1] != ' ')
		return -1;
	return v;
}

/* ErrorResponse / NoticeResponse fields (55.8): severity, SQLSTATE, message. */
static void pg_error_fields(struct query_record *rec, struct wire *w)
{
	for (;;) {
		uint8_t code = wire_u8(w);
		size_t len;
		const char *s;

		if (w->bad || code == 0)
			return;
		s = wire_cstr(w, &len);
		if (w->bad)
			return;
		if (code == 'V' || (code == 'S' && !(rec->str_set & (1u << RS_ERROR_SEVERITY))))
			record_set_str(rec, RS_ERROR_SEVERITY, s, len);
		else if (code == 'C')
			record_set_str(rec, RS_ERROR_CODE, s, len);
		else if (code == 'M')
			record_set_str(rec, RS_ERROR_MESSAGE, s, len);
	}
}

static void pg_auth(struct parse_ctx *ctx, struct pg_state *st, struct wire *w)
{
	uint32_t code = wire_u32be(w);
	const char *method = NULL;
	size_t len;

	switch (code) {
	case 0: /* AuthenticationOk */
		if (!st->auth_len)
			copy_name(st->auth, &st->auth_len, sizeof(st->auth), "trust", 5);
		record_set_str(response_target(ctx, st), RS_AUTH, st->auth, st->auth_len);
		return;
	case 2:
		method = "kerberos";
		break;
	case 3:
		method = "password";
		break;
	case 5:
		method = "md5";
		break;
	case 7:
		method = "gss";
		break;
	case 9:
		method = "sspi";
		break;
	case 10: { /* SASL: the mechanisms offered; the first is what clients pick */
		const char *mech = wire_cstr(w, &len);

		if (!w->bad && len) {
			char lower[32];

			for (size_t i = 0; i < len && i < sizeof(lower); i++)
				lower[i] = (char)(mech[i] >= 'A' && mech[i] <= 'Z' ? mech[i] + 32
										   : mech[i]);
			copy_name(st->auth, &st->auth_len, sizeof(st->auth), lower,
				  len < sizeof(lower) ? len : sizeof(lower));
		}
		return;
	}
	default:
		return;
	}
	copy_name(st->auth, &st->auth_len, sizeof(st->auth), method, strlen(method));
}

static void pg_data_row(struct parse_ctx *ctx, struct query_record *rec, struct wire *w)
{
	uint16_t ncols = wire_u16be(w);
	uint32_t cursor = 0;

	if (!rec)
		return;
	rec->ints[RI_ROWS]++;
	rec->int_set |= 1u << RI_ROWS;
	for (uint16_t i = 0; i < ncols && !w->bad; i++) {
		uint32_t vlen = wire_u32be(w);
		size_t col_len = 0;
		const char *col = record_list_next(rec, RL_COLUMNS, &cursor, &col_len);
		const uint8_t *v;

		if (vlen == UINT32_MAX)
			continue; /* NULL */
		v = wire_bytes(w, vlen);
		if (v)
			record_value(ctx, rec, VALUE_RESULT, col, col ? col_len : 0, v, vlen);
	}
}

static void pg_response(struct parse_ctx *ctx, struct pg_state *st, uint8_t type, struct wire *w,
			uint32_t msg_len)
{
	struct query_record *rec = response_target(ctx, st);
	size_t len;
	const char *s;

	record_add_bytes(rec, DIR_RESPONSE, msg_len);
	switch (type) {
	case 'T': { /* RowDescription */
		uint16_t n = wire_u16be(w);

		if (rec && rec->list_count[RL_COLUMNS])
			break; /* Describe already told us; Execute's own T repeats it */
		for (uint16_t i = 0; i < n && !w->bad; i++) {
			s = wire_cstr(w, &len);
			wire_skip(w, 18);
			if (!w->bad)
				record_list_add(rec, RL_COLUMNS, s, len);
		}
		break;
	}
	case 'D':
		pg_data_row(ctx, rec, w);
		break;
	case 'C': /* CommandComplete */
		s = wire_cstr(w, &len);
		if (!rec) {
			parse_count(ctx, PG_UNMATCHED);
			break;
		}
		record_set_str(rec, RS_COMMAND, s, len);
		if (pg_tag_rows(s, len) >= 0)
			record_set_int(rec, RI_ROWS, pg_tag_rows(s, len));
		response_finish(ctx, st, rec, RECORD_OK);
		break;
	case 'I': /* EmptyQueryResponse */
		record_set_cstr(rec, RS_COMMAND, "EMPTY");
		if (rec)
			response_finish(ctx, st, rec, RECORD_OK);
		break;
	case 's': /* PortalSuspended: the rows so far, the client will Execute again */
		record_set_cstr(rec, RS_COMMAND, "SUSPENDED");
		if (rec)
			response_finish(ctx, st, rec, RECORD_OK);
		break;
	case 'E': { /* ErrorResponse */
		struct pg_group *g = group_oldest(st);

		if (g)
			g->error = true;
		if (!rec) {
			/* an error nobody asked for (FATAL at shutdown, a failed Describe): still
			 * worth a record of its own */
			rec = record_begin(ctx);
			pg_error_fields(rec, w);
			record_finish(ctx, rec, RECORD_ERROR);
			if (!g)
				parse_count(ctx, PG_UNMATCHED);
			break;
		}
		pg_error_fields(rec, w);
		response_finish(ctx, st, rec, RECORD_ERROR);
		break;
	}
	case 'Z': /* ReadyForQuery */
		group_close(ctx, st);
		break;
	case 'R':
		pg_auth(ctx, st, w);
		break;
	case 'S': /* ParameterStatus */
	case 'K': /* BackendKeyData */
	case 'N': /* NoticeResponse */
	case 'A': /* NotificationResponse */
	case '1': /* ParseComplete */
	case '2': /* BindComplete */
	case '3': /* CloseComplete */
	case 'n': /* NoData */
	case 't': /* ParameterDescription */
	case 'G': /* CopyInResponse */
	case 'H': /* CopyOutResponse */
	case 'W': /* CopyBothResponse */
	case 'd': /* CopyData */
	case 'c': /* CopyDone */
	case 'v': /* NegotiateProtocolVersion */
	case 'V': /* FunctionCallResponse */
		break;
	default:
		parse_count(ctx, PG_UNKNOWN_MESSAGE);
		break;
	}
}

/* ---- the message loop ---- */

static struct parse_result pg_on_data(struct parse_ctx *ctx, void *state, enum dir dir,
				      const uint8_t *p, uint32_t len)
{
	struct pg_state *st = state;
	uint32_t msg_len, total;
	struct wire w;
	uint8_t type;

	if (st->skip[dir]) { /* the tail of an oversize message */
		uint32_t n = len < st->skip[dir] ? len : st->skip[dir];

		st->skip[dir] -= n;
		return (struct parse_result){PARSE_OK, n, 0};
	}
	if (dir == DIR_RESPONSE && st->ssl_requested) {
		/* the one-byte answer to SSLRequest/GSSENCRequest (55.2.10) */
		bool yes = p[0] == (st->ssl_requested == 1 ? 'S' : 'G');

		st->ssl_requested = 0;
		if (yes && !parse_conn_is_tls(ctx)) {
			parse_count(ctx, PG_ENCRYPTED);
			parse_conn_set_encrypted(ctx);
		}
		return (struct parse_result){PARSE_OK, 1, 0};
	}
	if (dir == DIR_REQUEST && st->phase == PG_PHASE_STARTUP)
		return pg_untyped(ctx, st, p, len);
	if (len < 5)
		return (struct parse_result){PARSE_MORE, 0, 5};
	type = p[0];
	msg_len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	if (msg_len < 4 || msg_len > (1u << 30))
		return (struct parse_result){PARSE_LOST, 0, 0};
	total = msg_len + 1;
	if (total > len) {
		if (total <= parse_max_message(ctx))
			return (struct parse_result){PARSE_MORE, 0, total};
		/* longer than we buffer: parse the head we have (a query's first part, a
		 * row counted), skip the rest as it streams by */
		parse_count(ctx, PG_OVERSIZE_SKIPPED);
		w = wire_init(p + 5, len - 5);
		if (dir == DIR_REQUEST)
			pg_request(ctx, st, type, &w, total, true);
		else if (type == 'D')
			pg_data_row(ctx, response_target(ctx, st), &w);
		st->skip[dir] = total - len;
		return (struct parse_result){PARSE_OK, len, 0};
	}
	w = wire_init(p + 5, msg_len - 4);
	if (dir == DIR_REQUEST)
		pg_request(ctx, st, type, &w, total, false);
	else
		pg_response(ctx, st, type, &w, total);
	if (w.bad && type != 'D')
		parse_count(ctx, PG_MALFORMED);
	return (struct parse_result){PARSE_OK, total, 0};
}

static void pg_on_gap(struct parse_ctx *ctx, void *state, enum dir dir, uint64_t missing)
{
	struct pg_state *st = state;

	(void)ctx;
	(void)missing;
	/* messages have no sync marker: after a hole the next byte is not known to start a
	 * message, so pairing would be a guess. Finish what is pending as incomplete and
	 * stop; the connection is still reported by its conn records. */
	st->skip[dir] = 0;
	st->phase = PG_PHASE_TYPED;
	st->group_count = 0;
	parse_give_up(ctx);
}

const struct parser postgres_parser = {
	.name = "postgres",
	.flags = PARSER_F_SQL,
	.ports = pg_ports,
	.state_size = sizeof(struct pg_state),
	.detect = pg_detect,
	.on_data = pg_on_data,
	.on_gap = pg_on_gap,
	.on_close = NULL,
	.counter_defs = pg_counter_defs,
	.counter_count = PG_COUNTERS,
};
