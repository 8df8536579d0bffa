/*
 * The protocol engine (see engine.h): layered detection, stream buffering on behalf of
 * the parsers, parser state, and the record pairing queues.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn_table.h"
#include "counters.h"
#include "emit.h"
#include "engine.h"
#include "parser.h"
#include "record.h"
#include "pii/pii.h"
#include "stmt_cache.h"

#define SLOT_NONE	 UINT32_MAX
#define DETECT_TRIES_MAX 4   /* chunks nobody claims before a connection is unknown */
#define PENDING_MAX	 64  /* pipelined requests per connection awaiting responses */
#define STATE_SLAB_BLOCK 256 /* parser states allocated together when the slab grows */
#define DETECT_CONFIDENT 50  /* a score this high wins without waiting for undecided */

static const struct counter_def engine_counter_defs[ENGINE_COUNTERS] = {
	[ENGINE_DETECT_UNKNOWN] = {"parser_unknown_total",
				   "Connections no parser claimed (conn records only)"},
	[ENGINE_BUFFERS_EXHAUSTED] =
		{"parser_buffers_exhausted_total",
		 "Stream buffers wanted when the pool was empty (parsing stopped)"},
	[ENGINE_RECORDS_EXHAUSTED] = {"parser_records_exhausted_total",
				      "Requests not reported: the record pool was empty"},
	[ENGINE_PENDING_OVERFLOW] = {"parser_pending_overflow_total",
				     "Requests not reported: too many awaiting responses on one "
				     "connection"},
	[ENGINE_OVERSIZE] =
		{"parser_oversize_total",
		 "Parsers that asked to buffer more than parsers.buffer_bytes (stopped)"},
	[ENGINE_UDP_TRUNCATED] = {"parser_udp_truncated_total",
				  "Datagrams whose message did not end inside the datagram"},
	[ENGINE_STMT_EVICTED] =
		{"parser_statements_evicted_total",
		 "Prepared statements forgotten to make room (least recently used)"},
	[ENGINE_PII_FINDINGS] = {"pii_findings_total", "PII values found in traffic"},
	[ENGINE_PII_OVERFLOW] = {"pii_record_overflow_total",
				 "PII findings beyond what one record summarises (counted, fields "
				 "redacted)"},
};

/* Counters every protocol has, before its own ones. */
enum proto_counter {
	PROTO_DETECTED,
	PROTO_RECORDS,
	PROTO_ERRORS,
	PROTO_INCOMPLETE,
	PROTO_LOST,
	PROTO_GAPS,
	PROTO_COUNTERS,
};

static const struct counter_def proto_counter_defs[PROTO_COUNTERS] = {
	[PROTO_DETECTED] = {"proto_detected_total", "Connections attached to this protocol"},
	[PROTO_RECORDS] = {"proto_records_total", "Query records written"},
	[PROTO_ERRORS] = {"proto_errors_total", "Query records with status error"},
	[PROTO_INCOMPLETE] = {"proto_incomplete_total",
			      "Requests whose response never completed (connection ended)"},
	[PROTO_LOST] = {"proto_lost_total", "Connections the parser gave up (out of sync)"},
	[PROTO_GAPS] = {"proto_gaps_total", "Gaps in captured streams handed to the parser"},
};

/*
 * Per-protocol counters are shared by all workers (one block per protocol, label
 * proto=NAME): they change per record, not per chunk, so atomic adds cost nothing that
 * matters. Allocated once by the first engine, never freed (the registry keeps them).
 */
static uint64_t *proto_counters[256];
static pthread_once_t proto_counters_once = PTHREAD_ONCE_INIT;

static void proto_counters_register(void)
{
	for (uint32_t i = 0; i < parser_count; i++) {
		const struct parser *p = parsers[i];

		proto_counters[i] = calloc(PROTO_COUNTERS + p->counter_count, sizeof(uint64_t));
		if (!proto_counters[i])
			abort(); /* startup, tiny: nothing sensible to do without memory */
		counters_register("proto", p->name, proto_counter_defs, PROTO_COUNTERS,
				  proto_counters[i]);
		if (p->counter_count)
			counters_register("proto", p->name, p->counter_defs, p->counter_count,
					  proto_counters[i] + PROTO_COUNTERS);
	}
}

struct parse_engine {
	const struct config *cfg;
	struct emitter *emit;
	struct query_record *records;
	uint32_t nrecords;
	uint32_t free_record;
	uint8_t *buf_mem;
	uint32_t buf_size;
	uint32_t nbufs;
	uint32_t *free_bufs;
	uint32_t nfree_bufs;
	uint32_t state_size;   /* slab slot: the largest parser state */
	void *free_states;     /* chained through the first word of each free slot */
	uint32_t states_alloc; /* slots allocated so far */
	uint32_t states_max;
	void **state_blocks;
	uint32_t nstate_blocks;
	struct stmt_cache *stmts;
	const struct pii_engine *pii;
	struct pii_scratch *pii_scratch;
	uint64_t counters[ENGINE_COUNTERS];
};

struct parse_ctx {
	struct parse_engine *eng;
	struct conn *conn;
	uint64_t ts_ns;
	const struct parser *parser;
	uint64_t *proto_counters;
	bool give_up; /* set by parse_give_up: detach after the current call */
};

static uint32_t engine_buffers(const struct config *cfg)
{
	/* a buffer per connection that has a message in flight; most have none at a time */
	uint32_t n = cfg->conn_table / 16;

	return n < 64 ? 64 : (n > 4096 ? 4096 : n);
}

uint64_t parse_engine_bytes(const struct config *cfg)
{
	return (uint64_t)cfg->parser_records * sizeof(struct query_record) +
	       (uint64_t)engine_buffers(cfg) * cfg->parser_buffer_bytes +
	       stmt_cache_bytes(cfg->parser_statements) +
	       (cfg->pii_rules[0] ? pii_scratch_bytes() : 0);
}

int parse_engine_create(struct parse_engine **out, const struct config *cfg, struct emitter *emit,
			const struct pii_engine *pii, uint32_t worker, uint32_t conn_capacity)
{
	struct parse_engine *eng = calloc(1, sizeof(*eng));
	char label[16];

	if (!eng)
		return -ENOMEM;
	pthread_once(&proto_counters_once, proto_counters_register);
	eng->cfg = cfg;
	eng->emit = emit;
	eng->nrecords = cfg->parser_records;
	eng->records = calloc(eng->nrecords, sizeof(*eng->records));
	eng->buf_size = cfg->parser_buffer_bytes;
	eng->nbufs = engine_buffers(cfg);
	eng->buf_mem = malloc((size_t)eng->nbufs * eng->buf_size);
	eng->free_bufs = calloc(eng->nbufs, sizeof(*eng->free_bufs));
	eng->states_max = conn_capacity;
	eng->state_blocks =
		calloc(conn_capacity / STATE_SLAB_BLOCK + 1, sizeof(*eng->state_blocks));
	eng->pii = pii;
	if (pii)
		eng->pii_scratch = pii_scratch_new(pii);
	if (!eng->records || !eng->buf_mem || !eng->free_bufs || !eng->state_blocks ||
	    (pii && !eng->pii_scratch) ||
	    stmt_cache_create(&eng->stmts, cfg->parser_statements) < 0) {
		parse_engine_destroy(eng);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < eng->nrecords; i++)
		eng->records[i].next = i + 1 < eng->nrecords ? i + 1 : SLOT_NONE;
	eng->free_record = eng->nrecords ? 0 : SLOT_NONE;
	for (uint32_t i = 0; i < eng->nbufs; i++)
		eng->free_bufs[i] = eng->nbufs - 1 - i;
	eng->nfree_bufs = eng->nbufs;
	eng->state_size = sizeof(void *);
	for (uint32_t i = 0; i < parser_count; i++)
		if (parsers[i]->state_size > eng->state_size)
			eng->state_size = parsers[i]->state_size;
	eng->state_size = (eng->state_size + 15) & ~15u;
	snprintf(label, sizeof(label), "%u", worker);
	counters_register("worker", label, engine_counter_defs, ENGINE_COUNTERS, eng->counters);
	*out = eng;
	return 0;
}

void parse_engine_destroy(struct parse_engine *eng)
{
	if (!eng)
		return;
	for (uint32_t i = 0; i < eng->nstate_blocks; i++)
		free(eng->state_blocks[i]);
	free(eng->state_blocks);
	stmt_cache_destroy(eng->stmts);
	if (eng->pii_scratch)
		pii_scratch_free(eng->pii_scratch);
	free(eng->records);
	free(eng->buf_mem);
	free(eng->free_bufs);
	free(eng);
}

/* ---- pools ---- */

static void *state_get(struct parse_engine *eng)
{
	void *s;

	if (!eng->free_states) {
		uint8_t *block;

		if (eng->states_alloc >= eng->states_max)
			return NULL;
		block = malloc((size_t)STATE_SLAB_BLOCK * eng->state_size);
		if (!block)
			return NULL;
		eng->state_blocks[eng->nstate_blocks++] = block;
		for (uint32_t i = 0; i < STATE_SLAB_BLOCK; i++) {
			void **slot = (void **)(block + (size_t)i * eng->state_size);

			*slot = eng->free_states;
			eng->free_states = slot;
		}
		eng->states_alloc += STATE_SLAB_BLOCK;
	}
	s = eng->free_states;
	eng->free_states = *(void **)s;
	memset(s, 0, eng->state_size);
	return s;
}

static void state_put(struct parse_engine *eng, void *s)
{
	*(void **)s = eng->free_states;
	eng->free_states = s;
}

static uint8_t *buf_data(struct parse_engine *eng, uint32_t b)
{
	return eng->buf_mem + (size_t)b * eng->buf_size;
}

static uint32_t buf_get(struct parse_engine *eng)
{
	if (eng->nfree_bufs == 0) {
		counter_add(&eng->counters[ENGINE_BUFFERS_EXHAUSTED], 1);
		return CONN_PARSE_NO_BUFFER;
	}
	return eng->free_bufs[--eng->nfree_bufs];
}

static void buf_release(struct parse_engine *eng, struct conn_parse *cp, enum dir dir)
{
	if (cp->buf[dir] != CONN_PARSE_NO_BUFFER)
		eng->free_bufs[eng->nfree_bufs++] = cp->buf[dir];
	cp->buf[dir] = CONN_PARSE_NO_BUFFER;
	cp->buf_len[dir] = 0;
}

/* ---- the record API ---- */

static uint32_t record_slot(const struct parse_engine *eng, const struct query_record *rec)
{
	return (uint32_t)(rec - eng->records);
}

struct query_record *record_begin(struct parse_ctx *ctx)
{
	struct parse_engine *eng = ctx->eng;
	struct conn_parse *cp = &ctx->conn->parse;
	struct query_record *rec;
	uint32_t slot;

	if (cp->pending_count >= PENDING_MAX) {
		counter_add(&eng->counters[ENGINE_PENDING_OVERFLOW], 1);
		return NULL;
	}
	if (eng->free_record == SLOT_NONE) {
		counter_add(&eng->counters[ENGINE_RECORDS_EXHAUSTED], 1);
		return NULL;
	}
	slot = eng->free_record;
	rec = &eng->records[slot];
	eng->free_record = rec->next;
	/* everything before the pii summary is small and reset; the summary arrays are
	 * valid up to npii/nmasks, the arena up to arena_used */
	memset(rec, 0, offsetof(struct query_record, pii));
	rec->arena_used = 0;
	rec->ts_ns = ctx->ts_ns;
	rec->end_ns = ctx->ts_ns;
	rec->next = SLOT_NONE;
	rec->prev = cp->pending_tail;
	if (cp->pending_tail != SLOT_NONE)
		eng->records[cp->pending_tail].next = slot;
	else
		cp->pending_head = slot;
	cp->pending_tail = slot;
	cp->pending_count++;
	return rec;
}

struct query_record *record_oldest(struct parse_ctx *ctx)
{
	uint32_t head = ctx->conn->parse.pending_head;

	return head == SLOT_NONE ? NULL : &ctx->eng->records[head];
}

uint32_t record_pending(const struct parse_ctx *ctx)
{
	return ctx->conn->parse.pending_count;
}

static void record_unlink(struct parse_engine *eng, struct conn_parse *cp, struct query_record *rec)
{
	uint32_t slot = record_slot(eng, rec);

	if (rec->prev != SLOT_NONE)
		eng->records[rec->prev].next = rec->next;
	else
		cp->pending_head = rec->next;
	if (rec->next != SLOT_NONE)
		eng->records[rec->next].prev = rec->prev;
	else
		cp->pending_tail = rec->prev;
	cp->pending_count--;
	rec->next = eng->free_record;
	eng->free_record = slot;
}

void record_discard(struct parse_ctx *ctx, struct query_record *rec)
{
	if (rec)
		record_unlink(ctx->eng, &ctx->conn->parse, rec);
}

void record_finish(struct parse_ctx *ctx, struct query_record *rec, enum record_status status)
{
	if (!rec)
		return;
	rec->status = (uint8_t)status;
	if (ctx->ts_ns > rec->end_ns)
		rec->end_ns = ctx->ts_ns;
	counter_add_shared(&ctx->proto_counters[PROTO_RECORDS], 1);
	if (status == RECORD_ERROR)
		counter_add_shared(&ctx->proto_counters[PROTO_ERRORS], 1);
	else if (status == RECORD_INCOMPLETE)
		counter_add_shared(&ctx->proto_counters[PROTO_INCOMPLETE], 1);
	query_record_emit(ctx->eng->emit, ctx->conn, ctx->parser, rec, ctx->eng->cfg->redact);
	record_unlink(ctx->eng, &ctx->conn->parse, rec);
}

/* Copies into the arena; what does not fit is cut and marked. Returns the offset. */
static uint16_t arena_put(struct query_record *rec, const void *p, size_t len, size_t *stored)
{
	size_t room = RECORD_ARENA_BYTES - rec->arena_used;
	uint16_t off = rec->arena_used;

	if (len > room) {
		len = room;
		rec->truncated = true;
	}
	memcpy(rec->arena + off, p, len);
	rec->arena_used = (uint16_t)(rec->arena_used + len);
	*stored = len;
	return off;
}

void record_set_str(struct query_record *rec, enum record_str f, const void *p, size_t len)
{
	size_t stored;

	if (!rec)
		return;
	rec->str_off[f] = arena_put(rec, p, len, &stored);
	rec->str_len[f] = (uint16_t)stored;
	rec->str_set |= 1u << f;
}

void record_set_cstr(struct query_record *rec, enum record_str f, const char *s)
{
	record_set_str(rec, f, s, strlen(s));
}

const char *record_get_str(const struct query_record *rec, enum record_str f, size_t *len)
{
	if (!rec || !(rec->str_set & (1u << f))) {
		*len = 0;
		return "";
	}
	*len = rec->str_len[f];
	return rec->arena + rec->str_off[f];
}

void record_set_int(struct query_record *rec, enum record_int f, int64_t v)
{
	if (!rec)
		return;
	rec->ints[f] = v;
	rec->int_set |= 1u << f;
}

void record_list_add(struct query_record *rec, enum record_list l, const void *p, size_t len)
{
	uint16_t hdr[2];
	size_t stored;
	uint16_t off;

	if (!rec)
		return;
	if ((size_t)(RECORD_ARENA_BYTES - rec->arena_used) < sizeof(hdr) + 1) {
		rec->truncated = true;
		return;
	}
	off = rec->arena_used;
	rec->arena_used += sizeof(hdr);
	arena_put(rec, p, len, &stored);
	hdr[0] = (uint16_t)stored;
	hdr[1] = UINT16_MAX;
	memcpy(rec->arena + off, hdr, sizeof(hdr));
	if (rec->list_count[l] == 0)
		rec->list_first[l] = off;
	else
		memcpy(rec->arena + rec->list_last[l] + sizeof(uint16_t), &off, sizeof(off));
	rec->list_last[l] = off;
	rec->list_count[l]++;
}

void record_add_bytes(struct query_record *rec, enum dir dir, uint64_t n)
{
	if (rec)
		rec->bytes[dir] += n;
}

/* The PII context of a value: where it was seen and what the protocol is. */
static enum pii_context_kind value_context(const struct parse_ctx *ctx, enum value_where where,
					   const uint8_t *p, size_t len)
{
	bool sql = ctx->parser && (ctx->parser->flags & PARSER_F_SQL);
	size_t i = 0;

	switch (where) {
	case VALUE_QUERY:
		if (!sql)
			return PII_CTX_HTTP_QUERY; /* a request target's query string */
		while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\t' || p[i] == '('))
			i++;
		return len - i >= 6 && strncasecmp((const char *)p + i, "insert", 6) == 0
			       ? PII_CTX_SQL_INSERT
			       : PII_CTX_SQL_WHERE;
	case VALUE_PARAM: /* a bind parameter, or a command argument (Redis, memcached) */
		return sql ? PII_CTX_SQL_WHERE : PII_CTX_REDIS_VALUE;
	case VALUE_RESULT:
		return PII_CTX_RESULT_ROW;
	case VALUE_HEADER:
		return PII_CTX_HTTP_HEADER;
	case VALUE_KEY:
		return PII_CTX_REDIS_VALUE;
	case VALUE_BODY:
	default:
		while (i < len && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
			i++;
		if (i < len && (p[i] == '{' || p[i] == '['))
			return PII_CTX_HTTP_JSON;
		if (i < len && memchr(p + i, '=', len - i) && !memchr(p + i, ' ', len - i))
			return PII_CTX_HTTP_QUERY;
		return PII_CTX_FREE_TEXT;
	}
}

struct pii_visit {
	struct parse_ctx *ctx;
	struct query_record *rec;
	enum value_where where;
	const char *column;
	size_t column_len;
	const uint8_t *text;
};

/* Copies into the arena without cutting: returns the offset, or -1 when it does not fit. */
static int arena_put_whole(struct query_record *rec, const void *p, size_t len)
{
	uint16_t off = rec->arena_used;

	if ((size_t)(RECORD_ARENA_BYTES - rec->arena_used) < len)
		return -1;
	memcpy(rec->arena + off, p, len);
	rec->arena_used = (uint16_t)(rec->arena_used + len);
	return off;
}

/* Remembers a found value so that every written field shows it masked. */
static void record_mask_add(struct query_record *rec, enum pii_type type, const uint8_t *v,
			    size_t len)
{
	int off;

	for (uint8_t i = 0; i < rec->nmasks; i++)
		if (rec->masks[i].len == len && memcmp(rec->arena + rec->masks[i].off, v, len) == 0)
			return;
	off = rec->nmasks < RECORD_MASKS_MAX && len < UINT16_MAX ? arena_put_whole(rec, v, len)
								 : -1;
	if (off < 0) {
		rec->unmaskable = true; /* fields are redacted wholesale rather than leak it */
		return;
	}
	rec->masks[rec->nmasks++] = (struct record_mask){
		.type = (uint8_t)type, .off = (uint16_t)off, .len = (uint16_t)len};
}

static int pii_found(const struct pii_finding *f, void *arg)
{
	struct pii_visit *v = arg;
	struct query_record *rec = v->rec;
	struct record_pii *e = NULL;
	const uint8_t *value = v->text + f->start;
	size_t value_len = f->end - f->start;
	/* the column the parser named, else the key the engine found the value under (an
	 * INSERT's column list, a WHERE comparison, a JSON member, a query-string name) */
	const char *column = v->column_len ? v->column : f->key;
	size_t column_len = v->column_len ? v->column_len : (f->key ? f->key_len : 0);

	counter_add(&v->ctx->eng->counters[ENGINE_PII_FINDINGS], 1);
	for (uint8_t i = 0; i < rec->npii; i++) {
		struct record_pii *p = &rec->pii[i];

		if (p->type == f->type && p->where == v->where && p->column_len == column_len &&
		    (column_len == 0 ||
		     memcmp(rec->arena + p->column_off, column, column_len) == 0)) {
			e = p;
			break;
		}
	}
	if (!e) {
		char sample[64];
		size_t n = pii_mask(f->type, value, value_len, sample, sizeof(sample));
		int col_off = column_len ? arena_put_whole(rec, column, column_len) : 0;
		int sample_off = arena_put_whole(rec, sample, n);

		if (rec->npii == RECORD_PII_MAX || col_off < 0 || sample_off < 0) {
			counter_add(&v->ctx->eng->counters[ENGINE_PII_OVERFLOW], 1);
			rec->unmaskable = true;
			return 0;
		}
		e = &rec->pii[rec->npii++];
		*e = (struct record_pii){.type = (uint8_t)f->type,
					 .where = (uint8_t)v->where,
					 .column_off = (uint16_t)col_off,
					 .column_len = (uint16_t)column_len,
					 .sample_off = (uint16_t)sample_off,
					 .sample_len = (uint16_t)n};
	}
	e->count++;
	if (f->confidence > e->confidence)
		e->confidence = f->confidence;
	/* result cells are never written out, only counted: nothing to mask there */
	if (v->where != VALUE_RESULT)
		record_mask_add(rec, f->type, value, value_len);
	return 0;
}

void record_value(struct parse_ctx *ctx, struct query_record *rec, enum value_where where,
		  const char *column, size_t column_len, const uint8_t *p, size_t len)
{
	struct parse_engine *eng = ctx->eng;
	struct pii_visit v = {ctx, rec, where, column, column ? column_len : 0, p};

	if (!rec || !eng->pii || len == 0)
		return;
	pii_scan(eng->pii, eng->pii_scratch, value_context(ctx, where, p, len), column,
		 v.column_len, p, len, pii_found, &v);
}

size_t parse_csv_header(const struct parse_ctx *ctx, const uint8_t *p, size_t len)
{
	return ctx->eng->pii ? pii_csv_header(p, len) : 0;
}

void record_body_rows(struct parse_ctx *ctx, struct query_record *rec, const char *header,
		      size_t header_len, const uint8_t *p, size_t len)
{
	struct parse_engine *eng = ctx->eng;
	/* no column of the record's own: each finding carries the header's name it sits under */
	struct pii_visit v = {ctx, rec, VALUE_BODY, NULL, 0, p};

	if (!rec || !eng->pii || len == 0)
		return;
	pii_scan(eng->pii, eng->pii_scratch, PII_CTX_CSV_ROWS, header, header_len, p, len,
		 pii_found, &v);
}

void record_param_columns(struct parse_ctx *ctx, struct stmt_entry *stmt, bool dollar,
			  const char **cols, uint32_t *lens, uint32_t n)
{
	struct parse_engine *eng = ctx->eng;

	if (n == 0)
		return; /* no parameters: the statement is not read */
	if (eng->pii && stmt) {
		/* read from the text once per prepared statement, kept with it after */
		if (!stmt->keys_known) {
			const char *keys[STMT_PARAMS_MAX];
			uint32_t key_lens[STMT_PARAMS_MAX];

			pii_sql_param_keys(eng->pii_scratch, (const uint8_t *)stmt->text,
					   stmt->text_len, dollar, keys, key_lens, STMT_PARAMS_MAX);
			for (uint32_t i = 0; i < STMT_PARAMS_MAX; i++) {
				bool in_text = keys[i] && keys[i] >= stmt->text &&
					       keys[i] + key_lens[i] <= stmt->text + stmt->text_len;

				stmt->key_off[i] = in_text ? (uint16_t)(keys[i] - stmt->text) : 0;
				stmt->key_len[i] =
					in_text ? (uint8_t)(key_lens[i] < 255 ? key_lens[i] : 255)
						: 0;
			}
			stmt->keys_known = 1;
		}
		for (uint32_t i = 0; i < n && i < STMT_PARAMS_MAX; i++) {
			cols[i] = stmt->key_len[i] ? stmt->text + stmt->key_off[i] : NULL;
			lens[i] = stmt->key_len[i];
		}
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		cols[i] = NULL;
		lens[i] = 0;
	}
}

const char *record_list_next(const struct query_record *rec, enum record_list l, uint32_t *cursor,
			     size_t *len)
{
	uint16_t hdr[2];
	uint32_t off;

	if (!rec || *cursor == UINT32_MAX || (*cursor == 0 && rec->list_count[l] == 0))
		return NULL;
	off = *cursor == 0 ? rec->list_first[l] : *cursor - 1;
	memcpy(hdr, rec->arena + off, sizeof(hdr));
	*cursor = hdr[1] == UINT16_MAX ? UINT32_MAX : (uint32_t)hdr[1] + 1;
	*len = hdr[0];
	return rec->arena + off + sizeof(hdr);
}

/* ---- what parsers ask of the engine ---- */

struct stmt_entry *parse_stmt_store(struct parse_ctx *ctx, const void *name, size_t len)
{
	struct conn *c = ctx->conn;

	return stmt_cache_store(ctx->eng->stmts, stmt_key(c->key, c->generation, name, len),
				&ctx->eng->counters[ENGINE_STMT_EVICTED]);
}

struct stmt_entry *parse_stmt_find(struct parse_ctx *ctx, const void *name, size_t len)
{
	struct conn *c = ctx->conn;

	return stmt_cache_find(ctx->eng->stmts, stmt_key(c->key, c->generation, name, len));
}

void parse_stmt_forget(struct parse_ctx *ctx, const void *name, size_t len)
{
	struct conn *c = ctx->conn;

	stmt_cache_forget(ctx->eng->stmts, stmt_key(c->key, c->generation, name, len));
}

uint32_t parse_max_message(const struct parse_ctx *ctx)
{
	return ctx->eng->buf_size;
}

uint64_t parse_now(const struct parse_ctx *ctx)
{
	return ctx->ts_ns;
}

void parse_count(struct parse_ctx *ctx, int counter)
{
	counter_add_shared(&ctx->proto_counters[PROTO_COUNTERS + counter], 1);
}

int parse_conn_is_tls(const struct parse_ctx *ctx)
{
	return (ctx->conn->flags & CHUNK_F_TLS) != 0;
}

void parse_give_up(struct parse_ctx *ctx)
{
	ctx->give_up = true;
}

void parse_conn_set_encrypted(struct parse_ctx *ctx)
{
	ctx->conn->parse.encrypted = true;
}

/* ---- driving the parsers ---- */

static void ctx_init(struct parse_ctx *ctx, struct parse_engine *eng, struct conn *c,
		     uint64_t ts_ns)
{
	ctx->eng = eng;
	ctx->conn = c;
	ctx->ts_ns = ts_ns;
	ctx->give_up = false;
	ctx->parser = c->parse.state == CONN_PARSE_ATTACHED ? parsers[c->parse.parser] : NULL;
	ctx->proto_counters = ctx->parser ? proto_counters[c->parse.parser] : NULL;
}

/* The parser is done with this connection: finish what is pending, free its state. */
static void conn_detach(struct parse_engine *eng, struct parse_ctx *ctx, enum conn_parse_state why)
{
	struct conn_parse *cp = &ctx->conn->parse;
	struct query_record *rec;

	while ((rec = record_oldest(ctx)) != NULL)
		record_finish(ctx, rec, RECORD_INCOMPLETE);
	if (cp->pstate) {
		if (parsers[cp->parser]->state_free)
			parsers[cp->parser]->state_free(cp->pstate);
		state_put(eng, cp->pstate);
	}
	cp->pstate = NULL;
	buf_release(eng, cp, DIR_REQUEST);
	buf_release(eng, cp, DIR_RESPONSE);
	cp->state = (uint8_t)why;
	if (why == CONN_PARSE_LOST)
		counter_add_shared(&ctx->proto_counters[PROTO_LOST], 1);
}

/*
 * Runs the parser over p[0..len): returns the bytes consumed (< len only when it asked
 * for more), or -1 when the connection is lost.
 */
static int64_t parser_run(struct parse_engine *eng, struct parse_ctx *ctx, enum dir dir,
			  const uint8_t *p, uint32_t len)
{
	const struct parser *parser = ctx->parser;
	uint32_t off = 0;

	while (off < len) {
		struct parse_result r =
			parser->on_data(ctx, ctx->conn->parse.pstate, dir, p + off, len - off);

		if (r.status == PARSE_LOST || r.consumed > len - off || ctx->give_up ||
		    (r.status == PARSE_OK && r.consumed == 0))
			return -1;
		if (ctx->conn->parse.encrypted)
			return len; /* the rest is TLS we cannot read: drop it */
		off += r.consumed;
		if (r.status == PARSE_MORE) {
			if (r.needed > eng->buf_size) {
				counter_add(&eng->counters[ENGINE_OVERSIZE], 1);
				return -1;
			}
			break;
		}
	}
	return off;
}

/* Feeds bytes of one direction to the attached parser, buffering what it cannot take yet. */
static void conn_feed(struct parse_engine *eng, struct parse_ctx *ctx, enum dir dir,
		      const uint8_t *p, uint32_t len, bool datagram)
{
	struct conn_parse *cp = &ctx->conn->parse;
	int64_t used;

	while (cp->buf_len[dir] > 0) {
		/* a message was cut: complete it in the buffer first */
		uint8_t *b = buf_data(eng, cp->buf[dir]);
		uint32_t n = eng->buf_size - cp->buf_len[dir];

		if (n > len)
			n = len;
		memcpy(b + cp->buf_len[dir], p, n);
		cp->buf_len[dir] += n;
		p += n;
		len -= n;
		used = parser_run(eng, ctx, dir, b, cp->buf_len[dir]);
		if (used < 0 || cp->state != CONN_PARSE_ATTACHED)
			goto lost;
		if ((uint32_t)used < cp->buf_len[dir]) {
			memmove(b, b + used, cp->buf_len[dir] - (uint32_t)used);
			cp->buf_len[dir] -= (uint32_t)used;
			if (len == 0)
				return;
			if (cp->buf_len[dir] == eng->buf_size)
				goto lost; /* full and still incomplete: cannot happen with honest needs */
			continue;
		}
		buf_release(eng, cp, dir);
	}
	if (len == 0)
		return;
	used = parser_run(eng, ctx, dir, p, len);
	if (used < 0 || cp->state != CONN_PARSE_ATTACHED)
		goto lost;
	if ((uint32_t)used == len)
		return;
	if (datagram) {
		/* a datagram is whole: what the parser still waits for will never come */
		counter_add(&eng->counters[ENGINE_UDP_TRUNCATED], 1);
		return;
	}
	if (len - used > eng->buf_size)
		goto lost;
	cp->buf[dir] = buf_get(eng);
	if (cp->buf[dir] == CONN_PARSE_NO_BUFFER)
		goto lost;
	memmove(buf_data(eng, cp->buf[dir]), p + used, len - (uint32_t)used);
	cp->buf_len[dir] = len - (uint32_t)used;
	return;
lost:
	if (cp->state == CONN_PARSE_ATTACHED)
		conn_detach(eng, ctx, CONN_PARSE_LOST);
}

static bool parser_has_port(const struct parser *p, uint16_t port)
{
	for (const uint16_t *q = p->ports; q && *q; q++)
		if (*q == port)
			return true;
	return false;
}

static void conn_attach(struct parse_engine *eng, struct parse_ctx *ctx, uint32_t parser, int score,
			enum dir dir, bool datagram)
{
	struct conn_parse *cp = &ctx->conn->parse;
	enum dir other = dir == DIR_REQUEST ? DIR_RESPONSE : DIR_REQUEST;
	uint32_t held[2] = {cp->buf[0], cp->buf[1]};
	uint32_t held_len[2] = {cp->buf_len[0], cp->buf_len[1]};

	cp->pstate = state_get(eng);
	if (!cp->pstate) {
		counter_add(&eng->counters[ENGINE_BUFFERS_EXHAUSTED], 1);
		buf_release(eng, cp, DIR_REQUEST);
		buf_release(eng, cp, DIR_RESPONSE);
		cp->state = CONN_PARSE_UNKNOWN;
		return;
	}
	cp->state = CONN_PARSE_ATTACHED;
	cp->parser = (uint8_t)parser;
	cp->confidence = (uint8_t)score;
	ctx->parser = parsers[parser];
	ctx->proto_counters = proto_counters[parser];
	counter_add_shared(&ctx->proto_counters[PROTO_DETECTED], 1);
	/* the detection bytes become the parser's first input: the other direction's (held
	 * earlier) first, then this one's; each buffer is handed back before it is parsed */
	cp->buf[0] = cp->buf[1] = CONN_PARSE_NO_BUFFER;
	cp->buf_len[0] = cp->buf_len[1] = 0;
	/*
	 * Both held buffers go back to the pool first and are parsed in place. The pool is a
	 * stack: `other` is on top, so the tail that feeding `other` may keep lands in its own
	 * buffer (conn_feed moves tails with memmove), never in `dir`'s unparsed bytes.
	 */
	if (held[dir] != CONN_PARSE_NO_BUFFER)
		eng->free_bufs[eng->nfree_bufs++] = held[dir];
	if (held[other] != CONN_PARSE_NO_BUFFER)
		eng->free_bufs[eng->nfree_bufs++] = held[other];
	for (int i = 0; i < 2 && cp->state == CONN_PARSE_ATTACHED; i++) {
		enum dir d = i == 0 ? other : dir;

		if (held[d] != CONN_PARSE_NO_BUFFER)
			conn_feed(eng, ctx, d, buf_data(eng, held[d]), held_len[d], datagram);
	}
}

static void conn_detect(struct parse_engine *eng, struct parse_ctx *ctx, enum dir dir,
			const uint8_t *p, uint32_t len, bool datagram)
{
	struct conn_parse *cp = &ctx->conn->parse;
	uint16_t server_port = ctx->conn->dst.port;
	int best = -1, best_score = 0;
	bool undecided = false;
	uint8_t *b;
	uint32_t n;

	if (parser_count == 0) {
		cp->state = CONN_PARSE_UNKNOWN;
		return;
	}
	if (cp->buf[dir] == CONN_PARSE_NO_BUFFER) {
		cp->buf[dir] = buf_get(eng);
		if (cp->buf[dir] == CONN_PARSE_NO_BUFFER) {
			cp->state = CONN_PARSE_UNKNOWN;
			return;
		}
	}
	b = buf_data(eng, cp->buf[dir]);
	n = eng->buf_size - cp->buf_len[dir];
	if (n > len)
		n = len;
	memcpy(b + cp->buf_len[dir], p, n);
	cp->buf_len[dir] += n;

	for (uint32_t i = 0; i < parser_count; i++) {
		int s = parsers[i]->detect(b, cp->buf_len[dir], dir);

		if (s < 0) {
			undecided = true;
			continue;
		}
		/* equal scores: the parser that owns the server port wins (tie-break only) */
		if (s > best_score ||
		    (s > 0 && s == best_score && parser_has_port(parsers[i], server_port) &&
		     !parser_has_port(parsers[best], server_port))) {
			best = (int)i;
			best_score = s;
		}
	}
	if (best >= 0 && (best_score >= DETECT_CONFIDENT || !undecided)) {
		conn_attach(eng, ctx, (uint32_t)best, best_score, dir, datagram);
		if (n < len && cp->state == CONN_PARSE_ATTACHED)
			conn_feed(eng, ctx, dir, p + n, len - n, datagram);
		return;
	}
	if (undecided && cp->buf_len[dir] < eng->buf_size && !datagram)
		return; /* wait for more bytes of this direction */
	/* nobody wants these bytes: forget them, give the connection a few more chances */
	buf_release(eng, cp, dir);
	if (++cp->detect_tries >= DETECT_TRIES_MAX) {
		buf_release(eng, cp, DIR_REQUEST);
		buf_release(eng, cp, DIR_RESPONSE);
		cp->state = CONN_PARSE_UNKNOWN;
		counter_add(&eng->counters[ENGINE_DETECT_UNKNOWN], 1);
	}
}

void conn_parse_init(struct conn_parse *cp)
{
	memset(cp, 0, sizeof(*cp));
	cp->buf[0] = cp->buf[1] = CONN_PARSE_NO_BUFFER;
	cp->pending_head = cp->pending_tail = SLOT_NONE;
}

void parse_engine_data(struct parse_engine *eng, struct conn *c, const struct chunk *ch)
{
	struct parse_ctx ctx;
	bool datagram = (ch->flags & CHUNK_F_UDP) != 0;

	if (c->parse.state >= CONN_PARSE_UNKNOWN || c->parse.encrypted)
		return;
	ctx_init(&ctx, eng, c, ch->ts_ns);
	if (ch->len) {
		if (c->parse.state == CONN_PARSE_DETECTING)
			conn_detect(eng, &ctx, ch->dir, ch->data, ch->len, datagram);
		else
			conn_feed(eng, &ctx, ch->dir, ch->data, ch->len, datagram);
	}
	if (ch->len_true > ch->len)
		parse_engine_gap(eng, c, ch->dir, ch->len_true - ch->len, ch->ts_ns);
}

void parse_engine_gap(struct parse_engine *eng, struct conn *c, enum dir dir, uint64_t missing,
		      uint64_t ts_ns)
{
	struct conn_parse *cp = &c->parse;
	struct parse_ctx ctx;

	if (cp->state == CONN_PARSE_DETECTING) {
		buf_release(eng, cp, dir); /* detection restarts on the bytes after the hole */
		return;
	}
	if (cp->state != CONN_PARSE_ATTACHED)
		return;
	ctx_init(&ctx, eng, c, ts_ns);
	counter_add_shared(&ctx.proto_counters[PROTO_GAPS], 1);
	/* a buffered partial message can never complete across the hole */
	buf_release(eng, cp, dir);
	if (ctx.parser->on_gap)
		ctx.parser->on_gap(&ctx, cp->pstate, dir, missing);
	if (!ctx.parser->on_gap || ctx.give_up)
		conn_detach(eng, &ctx, CONN_PARSE_LOST);
}

void parse_engine_close(struct parse_engine *eng, struct conn *c, uint64_t ts_ns)
{
	struct conn_parse *cp = &c->parse;
	struct parse_ctx ctx;

	ctx_init(&ctx, eng, c, ts_ns);
	if (cp->state == CONN_PARSE_ATTACHED) {
		if (ctx.parser->on_close)
			ctx.parser->on_close(&ctx, cp->pstate);
		/* stays ATTACHED (without state) so the close record still names the protocol */
		conn_detach(eng, &ctx, CONN_PARSE_ATTACHED);
		return;
	}
	buf_release(eng, cp, DIR_REQUEST);
	buf_release(eng, cp, DIR_RESPONSE);
}

const char *parse_engine_proto(const struct conn *c)
{
	if (c->parse.state == CONN_PARSE_ATTACHED ||
	    (c->parse.state == CONN_PARSE_LOST && c->parse.confidence))
		return parsers[c->parse.parser]->name;
	return "unknown";
}
