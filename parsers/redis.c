/*
 * Redis serialization protocol, RESP2 and RESP3 ("RESP protocol specification" in the
 * Redis documentation): one record per command with `query` (the command and its
 * arguments, space joined) and `command` (its name), the reply's kind, element count as
 * `rows`, and errors (`-ERR ...`, blob errors) as `error`.
 *
 * Both directions stream: a command's arguments and a reply's bulk strings are consumed
 * as they arrive (never buffered whole), so a 100 MB SET costs a few bytes of state.
 * Only one line at a time (a type line, an inline command) waits for its CRLF.
 *
 * Pairing: Redis answers in order (pipelining, MULTI/EXEC: every queued command gets its
 * +QUEUED, EXEC one array). What is not an answer is told apart: RESP3 push messages
 * ('>') and, in RESP2 subscriber mode, arrays starting "message"/"pmessage"/"smessage"
 * are deliveries, never replies; subscription confirmations ("subscribe", ...) answer
 * the (P|S)(UN)SUBSCRIBE command they belong to, one per channel. Attributes ('|')
 * decorate the reply that follows them and are not replies themselves.
 *
 * Credentials never reach the record: the password of AUTH and of HELLO ... AUTH is
 * written as "****".
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "counters.h"
#include "parser.h"
#include "wire.h"

#define REDIS_QUERY_MAX	 1024  /* query text kept per command; the rest is cut */
#define REDIS_PENDING	 64    /* commands awaiting replies (engine PENDING_MAX) */
#define REDIS_DEPTH	 32    /* nesting of aggregates in a reply */
#define REDIS_LINE_MAX	 65536 /* an inline command or a type line */
#define REDIS_ARGS_MAX	 (1 << 20)
#define REDIS_VALUE_SCAN 2048 /* bytes of a bulk string handed to the PII engine at once */
#define REDIS_KEY_HEAD	 64   /* bytes of an argument kept as the key of the next */

enum redis_counter {
	REDIS_MALFORMED,
	REDIS_UNMATCHED,
	REDIS_PUSHES,
	REDIS_COUNTERS,
};

static const struct counter_def redis_counter_defs[REDIS_COUNTERS] = {
	[REDIS_MALFORMED] = {"redis_malformed_total",
			     "Bytes that are not RESP (connection given up)"},
	[REDIS_UNMATCHED] = {"redis_unmatched_replies_total",
			     "Replies with no command waiting for them"},
	[REDIS_PUSHES] = {"redis_pushes_total",
			  "Pub/sub deliveries and RESP3 pushes (not replies)"},
};

/* Request side phases. */
enum redis_req_phase {
	RQ_IDLE = 0,  /* a new command: '*' array or an inline line */
	RQ_BULK_HDR,  /* "$len" of the next argument */
	RQ_BULK_DATA, /* argument bytes */
	RQ_BULK_CRLF, /* the CRLF after them */
};

/* Reply side phases. */
enum redis_resp_phase {
	RP_TYPE = 0, /* a type line */
	RP_BULK,     /* bulk/blob/verbatim bytes */
	RP_BULK_CRLF,
	RP_STREAM_HDR, /* RESP3 streamed string: ";len" */
};

/* What a waiting command tells about its replies. */
enum redis_cmd_flag {
	RCF_RECORD = 1u << 0,	 /* a record was allocated: it is record_oldest() */
	RCF_SUBSCRIBE = 1u << 1, /* answered by `confirms` subscription confirmations */
};

struct redis_cmd {
	uint8_t flags;
	uint8_t confirms; /* confirmations still due (subscribe family) */
};

/* The reply being read: what decides whether it is a reply and what it says. */
struct redis_reply {
	uint8_t top_type;  /* first non-attribute type byte at depth 0 */
	uint8_t first_len; /* captured first element of a top-level array/push */
	bool error;
	bool first_done;
	int64_t third; /* the third element when an integer (subscription count) */
	int64_t elems; /* top-level element count */
	char first[16];
};

struct redis_state {
	/* request */
	uint8_t rq_phase;
	bool rq_masked;	 /* the current argument is a credential */
	bool rq_scanned; /* the current argument's head went to the PII engine */
	bool rp_scanned; /* the same for the reply's bulk string */
	uint8_t mask_at; /* argument index to mask (HELLO ... AUTH user PASS) */
	/* the head of the previous argument, the PII key of the next one: SET's key for its
	 * value, HSET's field names for theirs (`HSET user:1 email x@y.z`) */
	uint8_t prev_arg_len, cur_arg_len;
	char prev_arg[REDIS_KEY_HEAD], cur_arg[REDIS_KEY_HEAD];
	uint32_t args_left;
	uint32_t args_total;
	uint32_t arg_index;
	uint64_t rq_remaining;
	uint16_t qlen;
	bool qcut;
	uint8_t cmd_len;
	char cmd[24];
	char query[REDIS_QUERY_MAX];
	/* the record of the command being received; a slot of the engine's pairing queue,
	 * cleared when the command completes (it is only ever finished by a reply after) */
	struct query_record *rq_rec;
	/* reply */
	uint8_t rp_phase;
	uint8_t depth;
	bool subscribed;      /* RESP2 subscriber mode: arrays may be deliveries */
	uint32_t attr_mask;   /* frames that are attributes (bit per depth) */
	uint32_t stream_mask; /* frames with '?' count, ended by '.' */
	uint64_t rp_remaining;
	int64_t rem[REDIS_DEPTH];
	bool rp_first_capture; /* the bulk being read is the first top-level element */
	bool rp_streaming;     /* inside a RESP3 streamed string ("$?") */
	struct redis_reply rp;
	/* pairing */
	uint8_t ring_head;
	uint8_t ring_count;
	struct redis_cmd ring[REDIS_PENDING];
};

static const uint16_t redis_ports[] = {6379, 6380, 26379, 0};

static struct parse_result result(enum parse_status s, uint32_t consumed, uint32_t needed)
{
	return (struct parse_result){s, consumed, needed};
}

static uint8_t upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 32) : c;
}

static bool ieq(const void *a, size_t len, const char *lit)
{
	const uint8_t *p = a;

	if (len != strlen(lit))
		return false;
	for (size_t i = 0; i < len; i++)
		if (upper(p[i]) != (uint8_t)lit[i])
			return false;
	return true;
}

/* A signed decimal (RESP lengths, integers); false when not one. */
static bool parse_int(const uint8_t *p, size_t len, int64_t *v)
{
	bool neg = false;
	int64_t x = 0;
	size_t i = 0;

	if (len && (p[0] == '-' || p[0] == '+')) {
		neg = p[0] == '-';
		i = 1;
	}
	if (i == len || len - i > 18)
		return false;
	for (; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		x = x * 10 + (p[i] - '0');
	}
	*v = neg ? -x : x;
	return true;
}

/* ---- pairing ---- */

static struct redis_cmd *ring_oldest(struct redis_state *st)
{
	return st->ring_count ? &st->ring[st->ring_head] : NULL;
}

static void ring_pop(struct redis_state *st)
{
	if (!st->ring_count)
		return;
	st->ring_head = (uint8_t)((st->ring_head + 1) % REDIS_PENDING);
	st->ring_count--;
}

/* ---- commands ---- */

static void query_add(struct redis_state *st, const uint8_t *p, size_t n)
{
	size_t room = sizeof(st->query) - st->qlen;

	if (n > room) {
		n = room;
		st->qcut = true;
	}
	memcpy(st->query + st->qlen, p, n);
	st->qlen = (uint16_t)(st->qlen + n);
}

static void command_begin(struct parse_ctx *ctx, struct redis_state *st)
{
	st->rq_rec = record_begin(ctx);
	st->qlen = 0;
	st->qcut = false;
	st->cmd_len = 0;
	st->arg_index = 0;
	st->prev_arg_len = st->cur_arg_len = 0;
	st->mask_at = 0;
	st->rq_masked = false;
}

/* An argument starts: separator, and whether it is a credential. */
static void arg_begin(struct redis_state *st, uint32_t args_total)
{
	uint32_t i = st->arg_index;

	if (i)
		query_add(st, (const uint8_t *)" ", 1);
	st->rq_masked = false;
	if (i > 0 && st->cmd_len == 4 && memcmp(st->cmd, "AUTH", 4) == 0 && i == args_total - 1)
		st->rq_masked = true; /* AUTH [username] password */
	if (i > 0 && st->mask_at && i == st->mask_at)
		st->rq_masked = true;
	if (st->rq_masked)
		query_add(st, (const uint8_t *)"****", 4);
	st->rq_scanned = false;
}

/* Argument bytes as they stream (the first argument is the command name). */
static void arg_bytes(struct parse_ctx *ctx, struct redis_state *st, const uint8_t *p, size_t n)
{
	if (st->arg_index == 0) {
		for (size_t i = 0; i < n && st->cmd_len < sizeof(st->cmd); i++)
			st->cmd[st->cmd_len++] = (char)upper(p[i]);
	}
	if (st->rq_masked)
		return;
	query_add(st, p, n);
	if (st->arg_index > 0 && !st->rq_scanned) {
		/* the key: the argument before, except for the Redis key itself (argument 1) */
		bool keyed = st->arg_index > 1 && st->prev_arg_len;

		record_value(ctx, st->rq_rec, VALUE_PARAM, keyed ? st->prev_arg : NULL,
			     keyed ? st->prev_arg_len : 0, p, n);
		st->cur_arg_len = (uint8_t)(n < REDIS_KEY_HEAD ? n : REDIS_KEY_HEAD);
		memcpy(st->cur_arg, p, st->cur_arg_len);
	}
	st->rq_scanned = true;
}

static void arg_end(struct redis_state *st)
{
	st->prev_arg_len = st->cur_arg_len;
	memcpy(st->prev_arg, st->cur_arg, st->cur_arg_len);
	st->cur_arg_len = 0;
	/* HELLO protover AUTH username password: the password is two after AUTH */
	if (st->arg_index > 0 && st->cmd_len == 5 && memcmp(st->cmd, "HELLO", 5) == 0) {
		size_t off = st->qlen >= 4 ? st->qlen - 4u : 0;

		if (st->qlen >= 5 && st->query[off - 1] == ' ' && ieq(st->query + off, 4, "AUTH"))
			st->mask_at = (uint8_t)(st->arg_index + 2 < 255 ? st->arg_index + 2 : 0);
	}
	st->arg_index++;
}

static bool is_subscribe_cmd(const char *c, size_t n)
{
	return ieq(c, n, "SUBSCRIBE") || ieq(c, n, "PSUBSCRIBE") || ieq(c, n, "SSUBSCRIBE") ||
	       ieq(c, n, "UNSUBSCRIBE") || ieq(c, n, "PUNSUBSCRIBE") || ieq(c, n, "SUNSUBSCRIBE");
}

static void command_end(struct parse_ctx *ctx, struct redis_state *st)
{
	struct query_record *rec = st->rq_rec;
	struct redis_cmd cmd = {.flags = rec ? RCF_RECORD : 0, .confirms = 0};

	record_set_str(rec, RS_COMMAND, st->cmd, st->cmd_len);
	record_set_str(rec, RS_QUERY, st->query, st->qlen);
	if (rec && st->qcut)
		rec->truncated = true;
	record_value(ctx, rec, VALUE_QUERY, NULL, 0, (const uint8_t *)st->cmd, st->cmd_len);
	if (is_subscribe_cmd(st->cmd, st->cmd_len)) {
		uint32_t channels = st->arg_index > 1 ? st->arg_index - 1 : 1;

		cmd.flags |= RCF_SUBSCRIBE;
		cmd.confirms = (uint8_t)(channels > 255 ? 255 : channels);
	}
	if (st->ring_count < REDIS_PENDING) {
		st->ring[(st->ring_head + st->ring_count) % REDIS_PENDING] = cmd;
		st->ring_count++;
	}
	st->rq_rec = NULL;
	st->rq_phase = RQ_IDLE;
}

/* An inline command (RESP "Inline commands"): space-separated words on one line. */
static void inline_command(struct parse_ctx *ctx, struct redis_state *st, const uint8_t *l,
			   uint32_t n, uint32_t total)
{
	uint32_t i = 0, words = 0;

	command_begin(ctx, st);
	record_add_bytes(st->rq_rec, DIR_REQUEST, total);
	/* count the words first: AUTH masks its last one */
	for (uint32_t k = 0; k < n;) {
		while (k < n && (l[k] == ' ' || l[k] == '\t'))
			k++;
		if (k < n)
			words++;
		while (k < n && l[k] != ' ' && l[k] != '\t')
			k++;
	}
	while (i < n) {
		uint32_t s;

		while (i < n && (l[i] == ' ' || l[i] == '\t'))
			i++;
		if (i == n)
			break;
		s = i;
		while (i < n && l[i] != ' ' && l[i] != '\t')
			i++;
		arg_begin(st, words);
		arg_bytes(ctx, st, l + s, i - s);
		arg_end(st);
	}
	command_end(ctx, st);
}

static struct parse_result redis_request(struct parse_ctx *ctx, struct redis_state *st,
					 const uint8_t *p, uint32_t len)
{
	uint32_t total, n;
	int64_t ll, v;

	switch (st->rq_phase) {
	case RQ_IDLE:
		if (p[0] == '\r' || p[0] == '\n')
			return result(PARSE_OK, 1, 0);
		ll = wire_line(p, len, &total);
		if (ll < 0)
			return len > REDIS_LINE_MAX ? result(PARSE_LOST, 0, 0)
						    : result(PARSE_MORE, 0, len + 1);
		if (p[0] != '*') {
			inline_command(ctx, st, p, (uint32_t)ll, total);
			return result(PARSE_OK, total, 0);
		}
		if (!parse_int(p + 1, (size_t)ll - 1, &v) || v > REDIS_ARGS_MAX) {
			parse_count(ctx, REDIS_MALFORMED);
			return result(PARSE_LOST, 0, 0);
		}
		if (v <= 0) /* "*0" / "*-1": nothing to run, nothing answered */
			return result(PARSE_OK, total, 0);
		command_begin(ctx, st);
		record_add_bytes(st->rq_rec, DIR_REQUEST, total);
		st->args_left = st->args_total = (uint32_t)v;
		st->rq_phase = RQ_BULK_HDR;
		return result(PARSE_OK, total, 0);
	case RQ_BULK_HDR:
		ll = wire_line(p, len, &total);
		if (ll < 0)
			return len > 64 ? result(PARSE_LOST, 0, 0) : result(PARSE_MORE, 0, len + 1);
		if (p[0] != '$' || !parse_int(p + 1, (size_t)ll - 1, &v) || v < 0) {
			parse_count(ctx, REDIS_MALFORMED);
			return result(PARSE_LOST, 0, 0);
		}
		record_add_bytes(st->rq_rec, DIR_REQUEST, total);
		arg_begin(st, st->args_total);
		st->rq_remaining = (uint64_t)v;
		st->rq_phase = v ? RQ_BULK_DATA : RQ_BULK_CRLF;
		return result(PARSE_OK, total, 0);
	case RQ_BULK_DATA:
		/* the scanned head of an argument in one piece, whatever the segmentation */
		n = st->rq_remaining < len ? (uint32_t)st->rq_remaining : len;
		if (!st->rq_scanned) {
			uint32_t want = st->rq_remaining < REDIS_VALUE_SCAN
						? (uint32_t)st->rq_remaining
						: REDIS_VALUE_SCAN;

			if (len < want)
				return result(PARSE_MORE, 0, want);
			n = want;
		}
		arg_bytes(ctx, st, p, n);
		record_add_bytes(st->rq_rec, DIR_REQUEST, n);
		st->rq_remaining -= n;
		if (!st->rq_remaining)
			st->rq_phase = RQ_BULK_CRLF;
		return result(PARSE_OK, n, 0);
	case RQ_BULK_CRLF:
	default:
		if (len < 2)
			return result(PARSE_MORE, 0, 2);
		if (p[0] != '\r' || p[1] != '\n') {
			parse_count(ctx, REDIS_MALFORMED);
			return result(PARSE_LOST, 0, 0);
		}
		record_add_bytes(st->rq_rec, DIR_REQUEST, 2);
		arg_end(st);
		if (--st->args_left == 0)
			command_end(ctx, st);
		else
			st->rq_phase = RQ_BULK_HDR;
		return result(PARSE_OK, 2, 0);
	}
}

/* ---- replies ---- */

static bool first_is(const struct redis_reply *r, const char *lit)
{
	return ieq(r->first, r->first_len, lit);
}

/* The reply in st->rp is complete: a reply to the oldest command, or a delivery. */
static void reply_done(struct parse_ctx *ctx, struct redis_state *st)
{
	struct redis_reply *r = &st->rp;
	struct redis_cmd *cmd = ring_oldest(st);
	struct query_record *rec;
	bool array = r->top_type == '*' || r->top_type == '>';

	if (array && r->first_done &&
	    (first_is(r, "SUBSCRIBE") || first_is(r, "PSUBSCRIBE") || first_is(r, "SSUBSCRIBE") ||
	     first_is(r, "UNSUBSCRIBE") || first_is(r, "PUNSUBSCRIBE") ||
	     first_is(r, "SUNSUBSCRIBE")) &&
	    (r->top_type == '>' || st->subscribed || (cmd && (cmd->flags & RCF_SUBSCRIBE)))) {
		/* a confirmation: the count of subscriptions left decides the mode */
		st->subscribed = r->third > 0;
		if (!cmd || !(cmd->flags & RCF_SUBSCRIBE))
			return; /* one of several for a command already answered */
		rec = cmd->flags & RCF_RECORD ? record_oldest(ctx) : NULL;
		if (rec && !(rec->int_set & (1u << RI_ROWS)))
			record_set_int(rec, RI_ROWS, 0);
		if (rec)
			rec->ints[RI_ROWS]++;
		if (cmd->confirms > 1) {
			cmd->confirms--;
			return;
		}
		ring_pop(st);
		record_finish(ctx, rec, RECORD_OK);
		return;
	}
	if (r->top_type == '>' ||
	    (r->top_type == '*' && st->subscribed && r->first_done &&
	     (first_is(r, "MESSAGE") || first_is(r, "PMESSAGE") || first_is(r, "SMESSAGE")))) {
		parse_count(ctx, REDIS_PUSHES);
		return;
	}
	if (!cmd) {
		parse_count(ctx, REDIS_UNMATCHED);
		return;
	}
	rec = cmd->flags & RCF_RECORD ? record_oldest(ctx) : NULL;
	ring_pop(st);
	if (r->top_type == '*' || r->top_type == '%' || r->top_type == '~')
		record_set_int(rec, RI_ROWS, r->elems);
	record_finish(ctx, rec, r->error ? RECORD_ERROR : RECORD_OK);
}

/* A value at the current depth is complete: climb out of finished aggregates. */
static void value_done(struct parse_ctx *ctx, struct redis_state *st)
{
	while (st->depth > 0) {
		uint8_t top = (uint8_t)(st->depth - 1);
		bool attr = st->attr_mask & (1u << top);

		if (st->stream_mask & (1u << top))
			return; /* ends at '.' only */
		if (--st->rem[top] > 0)
			return;
		st->depth--;
		st->attr_mask &= ~(1u << top);
		if (attr)
			return; /* an attribute is not a value of its parent: the value follows */
	}
	reply_done(ctx, st);
	memset(&st->rp, 0, sizeof(st->rp));
}

/* Records what a top-level element says (first element name, third element integer). */
static void top_element(struct redis_state *st, uint8_t type, const uint8_t *v, size_t n,
			bool complete)
{
	int64_t idx;

	if (st->depth != 1 || (st->attr_mask & 1u))
		return;
	idx = (st->rp.top_type == '%' ? 2 : 1) * st->rp.elems - st->rem[0];
	if (idx == 0 && (type == '$' || type == '+')) {
		size_t room = sizeof(st->rp.first) - st->rp.first_len;

		if (n > room)
			n = room;
		memcpy(st->rp.first + st->rp.first_len, v, n);
		st->rp.first_len = (uint8_t)(st->rp.first_len + n);
		if (complete)
			st->rp.first_done = true;
	} else if (idx == 2 && type == ':') {
		parse_int(v, n, &st->rp.third);
	}
}

static void reply_error(struct query_record *rec, const uint8_t *p, size_t n)
{
	size_t sp = 0;

	/* "-WRONGTYPE Operation against a key ...": the first word is the code */
	while (sp < n && p[sp] != ' ')
		sp++;
	record_set_str(rec, RS_ERROR_CODE, p, sp);
	record_set_str(rec, RS_ERROR_MESSAGE, p, n);
}

static struct query_record *reply_rec(struct parse_ctx *ctx, struct redis_state *st)
{
	struct redis_cmd *cmd = ring_oldest(st);

	return cmd && (cmd->flags & RCF_RECORD) ? record_oldest(ctx) : NULL;
}

static struct parse_result redis_reply_type(struct parse_ctx *ctx, struct redis_state *st,
					    const uint8_t *p, uint32_t len)
{
	uint32_t total;
	int64_t ll = wire_line(p, len, &total), v = 0;
	uint8_t t = p[0];
	const uint8_t *body = p + 1;
	size_t blen;
	struct query_record *rec = reply_rec(ctx, st);

	if (ll < 0)
		return len > REDIS_LINE_MAX ? result(PARSE_LOST, 0, 0)
					    : result(PARSE_MORE, 0, len + 1);
	if (ll == 0) {
		parse_count(ctx, REDIS_MALFORMED);
		return result(PARSE_LOST, 0, 0);
	}
	blen = (size_t)ll - 1;
	record_add_bytes(rec, DIR_RESPONSE, total);
	if (st->depth == 0 && t != '|' && !st->rp.top_type)
		st->rp.top_type = t;
	switch (t) {
	case '+': /* simple string */
	case ':': /* integer */
	case '_': /* null */
	case '#': /* boolean */
	case ',': /* double */
	case '(': /* big number */
		top_element(st, t, body, blen, true);
		if (t == '+' && blen)
			record_value(ctx, rec, VALUE_RESULT, NULL, 0, body, blen);
		value_done(ctx, st);
		return result(PARSE_OK, total, 0);
	case '-': /* simple error */
		if (st->depth == 0) {
			st->rp.error = true;
			reply_error(rec, body, blen);
		}
		value_done(ctx, st);
		return result(PARSE_OK, total, 0);
	case '.': /* end of a streamed aggregate */
		if (st->depth == 0 || !(st->stream_mask & (1u << (st->depth - 1)))) {
			parse_count(ctx, REDIS_MALFORMED);
			return result(PARSE_LOST, 0, 0);
		}
		st->depth--;
		st->stream_mask &= ~(1u << st->depth);
		value_done(ctx, st);
		return result(PARSE_OK, total, 0);
	case '$':				   /* bulk string */
	case '!':				   /* blob error */
	case '=':				   /* verbatim string */
		if (blen == 1 && body[0] == '?') { /* RESP3 streamed string */
			st->rp_phase = RP_STREAM_HDR;
			st->rp_streaming = true;
			return result(PARSE_OK, total, 0);
		}
		if (!parse_int(body, blen, &v) || v < -1) {
			parse_count(ctx, REDIS_MALFORMED);
			return result(PARSE_LOST, 0, 0);
		}
		if (t == '!' && st->depth == 0)
			st->rp.error = true;
		if (v == -1) { /* RESP2 null bulk */
			value_done(ctx, st);
			return result(PARSE_OK, total, 0);
		}
		st->rp_remaining = (uint64_t)v;
		st->rp_scanned = false;
		st->rp_first_capture = t == '$';
		st->rp_phase = v ? RP_BULK : RP_BULK_CRLF;
		if (!v)
			top_element(st, '$', body, 0, true);
		return result(PARSE_OK, total, 0);
	case '*': /* array */
	case '%': /* map */
	case '~': /* set */
	case '>': /* push */
	case '|': /* attribute */
		if (blen == 1 && body[0] == '?') {
			v = -2;
		} else if (!parse_int(body, blen, &v) || v < -1 || v > (1ll << 32)) {
			parse_count(ctx, REDIS_MALFORMED);
			return result(PARSE_LOST, 0, 0);
		}
		if (st->depth == 0 && t != '|')
			st->rp.elems = v > 0 ? v : 0;
		if (v == -1 || v == 0) { /* null or empty aggregate */
			if (t == '|')
				return result(PARSE_OK, total, 0);
			value_done(ctx, st);
			return result(PARSE_OK, total, 0);
		}
		if (st->depth == REDIS_DEPTH) {
			parse_count(ctx, REDIS_MALFORMED);
			return result(PARSE_LOST, 0, 0);
		}
		if (v == -2) {
			st->stream_mask |= 1u << st->depth;
			st->rem[st->depth] = INT64_MAX;
		} else {
			st->rem[st->depth] = (t == '%' || t == '|') ? 2 * v : v;
		}
		if (t == '|')
			st->attr_mask |= 1u << st->depth;
		st->depth++;
		return result(PARSE_OK, total, 0);
	default:
		parse_count(ctx, REDIS_MALFORMED);
		return result(PARSE_LOST, 0, 0);
	}
}

static struct parse_result redis_response(struct parse_ctx *ctx, struct redis_state *st,
					  const uint8_t *p, uint32_t len)
{
	struct query_record *rec = reply_rec(ctx, st);
	uint32_t n, total;
	int64_t ll, v;

	switch (st->rp_phase) {
	case RP_TYPE:
		return redis_reply_type(ctx, st, p, len);
	case RP_BULK:
		n = st->rp_remaining < len ? (uint32_t)st->rp_remaining : len;
		if (!st->rp_scanned) { /* the head in one piece (see RQ_BULK_DATA) */
			uint32_t want = st->rp_remaining < REDIS_VALUE_SCAN
						? (uint32_t)st->rp_remaining
						: REDIS_VALUE_SCAN;

			if (len < want)
				return result(PARSE_MORE, 0, want);
			n = want;
		}
		record_add_bytes(rec, DIR_RESPONSE, n);
		if (st->rp_first_capture)
			top_element(st, '$', p, n, false);
		if (st->depth == 0 && st->rp.error)
			reply_error(rec, p, n);
		else if (!st->rp_scanned)
			record_value(ctx, rec, VALUE_RESULT, NULL, 0, p, n);
		st->rp_scanned = true;
		st->rp_remaining -= n;
		if (!st->rp_remaining)
			st->rp_phase = RP_BULK_CRLF;
		return result(PARSE_OK, n, 0);
	case RP_BULK_CRLF:
		if (len < 2)
			return result(PARSE_MORE, 0, 2);
		if (p[0] != '\r' || p[1] != '\n') {
			parse_count(ctx, REDIS_MALFORMED);
			return result(PARSE_LOST, 0, 0);
		}
		record_add_bytes(rec, DIR_RESPONSE, 2);
		if (st->rp_streaming) { /* the next ";len" of a streamed string */
			st->rp_phase = RP_STREAM_HDR;
			return result(PARSE_OK, 2, 0);
		}
		if (st->rp_first_capture)
			top_element(st, '$', p, 0, true);
		st->rp_first_capture = false;
		st->rp_phase = RP_TYPE;
		value_done(ctx, st);
		return result(PARSE_OK, 2, 0);
	case RP_STREAM_HDR:
	default:
		ll = wire_line(p, len, &total);
		if (ll < 0)
			return len > 64 ? result(PARSE_LOST, 0, 0) : result(PARSE_MORE, 0, len + 1);
		if (ll < 2 || p[0] != ';' || !parse_int(p + 1, (size_t)ll - 1, &v) || v < 0) {
			parse_count(ctx, REDIS_MALFORMED);
			return result(PARSE_LOST, 0, 0);
		}
		record_add_bytes(rec, DIR_RESPONSE, total);
		if (v == 0) { /* ";0": the streamed string ends */
			st->rp_phase = RP_TYPE;
			st->rp_streaming = false;
			value_done(ctx, st);
			return result(PARSE_OK, total, 0);
		}
		/* a chunk: its bytes then CRLF, then the next ";len" */
		st->rp_remaining = (uint64_t)v;
		st->rp_scanned = false;
		st->rp_first_capture = false;
		st->rp_phase = RP_BULK;
		return result(PARSE_OK, total, 0);
	}
}

static struct parse_result redis_on_data(struct parse_ctx *ctx, void *state, enum dir dir,
					 const uint8_t *p, uint32_t len)
{
	struct redis_state *st = state;

	if (dir == DIR_REQUEST)
		return redis_request(ctx, st, p, len);
	return redis_response(ctx, st, p, len);
}

static void redis_on_gap(struct parse_ctx *ctx, void *state, enum dir dir, uint64_t missing)
{
	struct redis_state *st = state;

	/* inside a bulk string a gap shorter than what is left keeps the framing */
	if (dir == DIR_REQUEST && st->rq_phase == RQ_BULK_DATA && missing < st->rq_remaining) {
		st->rq_remaining -= missing;
		return;
	}
	if (dir == DIR_RESPONSE && st->rp_phase == RP_BULK && missing < st->rp_remaining) {
		st->rp_remaining -= missing;
		return;
	}
	/* RESP has no sync marker to find the next message by: give up (counted) */
	parse_give_up(ctx);
}

/* ---- detection ---- */

static const char *const inline_commands[] = {
	"PING",	   "INFO",     "AUTH ",	  "HELLO",   "SELECT ",	   "GET ",
	"SET ",	   "QUIT",     "CLIENT ", "COMMAND", "DBSIZE",	   "KEYS ",
	"MONITOR", "FLUSHALL", "FLUSHDB", "CONFIG ", "SUBSCRIBE ", "ECHO ",
};

static int redis_detect(const uint8_t *p, uint32_t len, enum dir dir)
{
	uint32_t i = 1;

	if (dir == DIR_RESPONSE)
		return DETECT_NOT_MINE;
	if (p[0] == '*') {
		/* "*<n>\r\n$<len>\r\n": an array of bulk strings (RESP "Sending commands") */
		while (i < len && p[i] >= '0' && p[i] <= '9' && i < 9)
			i++;
		if (i == len)
			return DETECT_NEED_MORE;
		if (i == 1 || p[i] != '\r')
			return DETECT_NOT_MINE;
		if (len < i + 3)
			return DETECT_NEED_MORE;
		return p[i + 1] == '\n' && p[i + 2] == '$' ? 90 : DETECT_NOT_MINE;
	}
	for (size_t k = 0; k < sizeof(inline_commands) / sizeof(inline_commands[0]); k++) {
		size_t n = strlen(inline_commands[k]);

		if (len < n + 1)
			continue;
		if (ieq(p, n, inline_commands[k]) && (inline_commands[k][n - 1] == ' ' ||
						      p[n] == '\r' || p[n] == '\n' || p[n] == ' '))
			return memchr(p, '\n', len) ? 40 : DETECT_NEED_MORE;
	}
	return DETECT_NOT_MINE;
}

const struct parser redis_parser = {
	.name = "redis",
	.flags = 0,
	.ports = redis_ports,
	.state_size = sizeof(struct redis_state),
	.detect = redis_detect,
	.on_data = redis_on_data,
	.on_gap = redis_on_gap,
	.on_close = NULL,
	.counter_defs = redis_counter_defs,
	.counter_count = REDIS_COUNTERS,
};
