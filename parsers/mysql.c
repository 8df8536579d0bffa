/*
 * MySQL / MariaDB client/server protocol (MySQL "Client/Server Protocol" internals
 * documentation; MariaDB knowledge base "Clients & Utilities / Server protocol"), as
 * MariaDB 10.11 and MySQL 8 speak it: one record per statement with its text, bind
 * parameters, columns, row count (or affected rows), and the error; the login (user,
 * database, program name, authentication plugin and outcome) as a record of its own.
 *
 * Framing: every packet is a 3-byte length, a sequence id and the payload; a payload of
 * 0xffffff bytes continues in the next packet ("Sending More Than 16Mb"). Sequence ids
 * restart at 0 with each command and count up across both directions; a jump is counted.
 * After the login, CLIENT_COMPRESS wraps the packet stream in compressed frames
 * ("Compression"), inflated here with zlib into a per-thread scratch buffer.
 *
 * Pairing: the client waits for each response before the next command, so the record is
 * created by the command and finished by the packet that ends its response (OK, ERR,
 * EOF, or the last row's terminator). A COM_QUERY that carries several statements
 * (CLIENT_MULTI_STATEMENTS) gets one record per statement, finished one per result as
 * SERVER_MORE_RESULTS_EXISTS announces the next. A few commands in flight are queued in
 * order (MariaDB's COM_STMT_PREPARE + EXECUTE "direct execution" sends two at once).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "counters.h"
#include "mysql_sql.h"
#include "parser.h"
#include "stmt_cache.h"
#include "wire.h"

#define MY_HEADER	     4
#define MY_PAYLOAD_MAX	     0xffffffu /* a payload this long continues in the next packet */
#define MY_COMPRESSED_HEADER 7
#define MY_GREETING_MAX	     1024
#define MY_CMDS		     8
#define MY_COLS		     64
#define MY_PARAMS_MAX	     256
#define MY_STATEMENTS_MAX    32
#define MY_NAME_MAX	     64
#define MY_CARRY	     1024u	 /* head of an inner packet cut by a compressed frame */
#define MY_COM_LOGIN	     0xff	 /* pseudo command: the connection phase */
#define MY_STMT_LAST	     0xffffffffu /* "the statement prepared last" (MariaDB direct execute) */
#define MY_TYPE_KNOWN	     0x10000u	 /* stmt_entry.param_types: the type was sent */

/* Capability flags (MySQL "Capabilities Flags", MariaDB "Connection"). */
#define CLIENT_MYSQL		  (1u << 0)
#define CLIENT_CONNECT_WITH_DB	  (1u << 3)
#define CLIENT_COMPRESS		  (1u << 5)
#define CLIENT_PROTOCOL_41	  (1u << 9)
#define CLIENT_SSL		  (1u << 11)
#define CLIENT_SECURE_CONNECTION  (1u << 15)
#define CLIENT_MULTI_STATEMENTS	  (1u << 16)
#define CLIENT_PLUGIN_AUTH	  (1u << 19)
#define CLIENT_CONNECT_ATTRS	  (1u << 20)
#define CLIENT_PLUGIN_AUTH_LENENC (1u << 21)
#define CLIENT_SESSION_TRACK	  (1u << 23)
#define CLIENT_DEPRECATE_EOF	  (1u << 24)
#define CLIENT_ZSTD_COMPRESSION	  (1u << 26)
#define CLIENT_QUERY_ATTRIBUTES	  (1u << 27)
/* MariaDB extended capabilities: the upper 32 bits, sent in the greeting's reserved bytes */
#define MARIADB_CLIENT_PROGRESS		 (1u << 0)
#define MARIADB_CLIENT_EXTENDED_METADATA (1u << 3)

/* Server status flags (OK and EOF packets). */
#define SERVER_MORE_RESULTS_EXISTS   0x0008u
#define SERVER_STATUS_CURSOR_EXISTS  0x0040u
#define SERVER_SESSION_STATE_CHANGED 0x4000u
#define SESSION_TRACK_SCHEMA	     1

/* Command bytes (MySQL "Text Protocol" and "Prepared Statements"; MariaDB 0xfa). */
enum my_com {
	COM_SLEEP,
	COM_QUIT,
	COM_INIT_DB,
	COM_QUERY,
	COM_FIELD_LIST,
	COM_CREATE_DB,
	COM_DROP_DB,
	COM_REFRESH,
	COM_SHUTDOWN,
	COM_STATISTICS,
	COM_PROCESS_INFO,
	COM_CONNECT,
	COM_PROCESS_KILL,
	COM_DEBUG,
	COM_PING,
	COM_TIME,
	COM_DELAYED_INSERT,
	COM_CHANGE_USER,
	COM_BINLOG_DUMP,
	COM_TABLE_DUMP,
	COM_CONNECT_OUT,
	COM_REGISTER_SLAVE,
	COM_STMT_PREPARE,
	COM_STMT_EXECUTE,
	COM_STMT_SEND_LONG_DATA,
	COM_STMT_CLOSE,
	COM_STMT_RESET,
	COM_SET_OPTION,
	COM_STMT_FETCH,
	COM_DAEMON,
	COM_BINLOG_DUMP_GTID,
	COM_RESET_CONNECTION,
	COM_CLONE,
	COM_STMT_BULK_EXECUTE = 0xfa,
};

static const char *const my_com_names[] = {
	[COM_SLEEP] = "SLEEP",
	[COM_QUIT] = "QUIT",
	[COM_INIT_DB] = "INIT_DB",
	[COM_QUERY] = "QUERY",
	[COM_FIELD_LIST] = "FIELD_LIST",
	[COM_CREATE_DB] = "CREATE_DB",
	[COM_DROP_DB] = "DROP_DB",
	[COM_REFRESH] = "REFRESH",
	[COM_SHUTDOWN] = "SHUTDOWN",
	[COM_STATISTICS] = "STATISTICS",
	[COM_PROCESS_INFO] = "PROCESS_INFO",
	[COM_CONNECT] = "CONNECT",
	[COM_PROCESS_KILL] = "PROCESS_KILL",
	[COM_DEBUG] = "DEBUG",
	[COM_PING] = "PING",
	[COM_TIME] = "TIME",
	[COM_DELAYED_INSERT] = "DELAYED_INSERT",
	[COM_CHANGE_USER] = "CHANGE_USER",
	[COM_BINLOG_DUMP] = "BINLOG_DUMP",
	[COM_TABLE_DUMP] = "TABLE_DUMP",
	[COM_CONNECT_OUT] = "CONNECT_OUT",
	[COM_REGISTER_SLAVE] = "REGISTER_SLAVE",
	[COM_STMT_PREPARE] = "PREPARE",
	[COM_STMT_EXECUTE] = "EXECUTE",
	[COM_STMT_SEND_LONG_DATA] = "STMT_SEND_LONG_DATA",
	[COM_STMT_CLOSE] = "STMT_CLOSE",
	[COM_STMT_RESET] = "STMT_RESET",
	[COM_SET_OPTION] = "SET_OPTION",
	[COM_STMT_FETCH] = "STMT_FETCH",
	[COM_DAEMON] = "DAEMON",
	[COM_BINLOG_DUMP_GTID] = "BINLOG_DUMP_GTID",
	[COM_RESET_CONNECTION] = "RESET_CONNECTION",
	[COM_CLONE] = "CLONE",
};

enum my_counter {
	MY_MALFORMED,
	MY_SEQ_MISMATCH,
	MY_UNMATCHED,
	MY_SKIPPED_AFTER_ERROR,
	MY_OVERSIZE_SKIPPED,
	MY_ENCRYPTED,
	MY_COMPRESSED,
	MY_COMPRESSED_LOST,
	MY_UNKNOWN_STATEMENT,
	MY_COMMANDS_OVERFLOW,
	MY_COUNTERS,
};

static const struct counter_def my_counter_defs[MY_COUNTERS] = {
	[MY_MALFORMED] = {"mysql_malformed_total", "Packets whose fields did not fit their length"},
	[MY_SEQ_MISMATCH] = {"mysql_sequence_mismatch_total",
			     "Packets whose sequence id was not the one expected"},
	[MY_UNMATCHED] = {"mysql_unmatched_responses_total",
			  "Packets with no command waiting for them"},
	[MY_SKIPPED_AFTER_ERROR] = {"mysql_skipped_after_error_total",
				    "Statements of a multi-statement query the server did not run"},
	[MY_OVERSIZE_SKIPPED] =
		{"mysql_oversize_total",
		 "Packets longer than parsers.buffer_bytes (head kept, rest skipped)"},
	[MY_ENCRYPTED] = {"mysql_ssl_total", "Connections switched to TLS by an SSL request"},
	[MY_COMPRESSED] = {"mysql_compressed_total", "Connections using the compressed protocol"},
	[MY_COMPRESSED_LOST] =
		{"mysql_compressed_lost_total",
		 "Compressed connections given up (zstd, oversize or corrupt frame)"},
	[MY_UNKNOWN_STATEMENT] = {"mysql_unknown_statement_total",
				  "Executions of statements prepared before the capture began"},
	[MY_COMMANDS_OVERFLOW] = {"mysql_commands_overflow_total",
				  "Commands not reported: too many awaiting responses"},
};

enum my_phase {
	MY_PHASE_START,	    /* nothing seen yet: the first packet tells where we joined */
	MY_PHASE_HANDSHAKE, /* greeting seen, the client's handshake response is next */
	MY_PHASE_AUTH,	    /* until the server's OK or ERR (login or COM_CHANGE_USER) */
	MY_PHASE_COMMAND,
};

/* Where the response to the oldest command is. */
enum my_resp {
	RESP_FIRST,	  /* OK, ERR, EOF, LOCAL INFILE request or a result set's column count */
	RESP_COLDEFS,	  /* column definitions to go */
	RESP_COLDEFS_EOF, /* the EOF after them (without CLIENT_DEPRECATE_EOF) */
	RESP_ROWS,	  /* rows up to the terminator */
	RESP_INFILE,	  /* the client sends the file, then the server answers OK or ERR */
	RESP_PREP_PARAMS, /* COM_STMT_PREPARE: parameter definitions (and EOF) */
	RESP_PREP_COLS,	  /* COM_STMT_PREPARE: column definitions (and EOF) */
	RESP_FIELDS,	  /* COM_FIELD_LIST: definitions up to EOF */
	RESP_STRING,	  /* COM_STATISTICS: one string packet */
	RESP_STREAM,	  /* COM_BINLOG_DUMP: events up to EOF or ERR */
};

struct my_cmd {
	uint8_t com;
	uint8_t records; /* records of this command not yet finished */
	bool unreported; /* a record could not be had: its responses are not reported */
	uint32_t stmt_id;
};

/* The head of an inner packet cut by a compressed frame boundary. */
struct my_carry {
	uint8_t hdr[MY_HEADER];
	uint8_t hdr_have;
	uint16_t have;
	uint32_t left; /* payload bytes still to come */
	uint32_t len;
	uint8_t buf[MY_CARRY];
};

struct my_state {
	uint8_t phase;
	bool caps_known;
	bool compress_next; /* compression starts after the OK that ends the login */
	bool compressed;
	bool seq_known;
	uint8_t seq_next;
	bool cseq_known;
	uint8_t cseq_next;
	bool cont[2];	  /* the last packet of dir was 0xffffff bytes: this one continues */
	uint32_t skip[2]; /* bytes of an oversize packet still to skip */
	uint32_t server_caps;
	uint32_t server_ext;
	uint32_t caps; /* negotiated: server & client */
	uint32_t ext;  /* MariaDB extended capabilities, negotiated */
	uint8_t user_len, db_len, app_len, auth_len, pending_db_len;
	char user[MY_NAME_MAX];
	char db[MY_NAME_MAX];
	char app[MY_NAME_MAX];
	char auth[32];
	char pending_db[MY_NAME_MAX]; /* COM_INIT_DB: the schema once the server says OK */
	uint64_t pending_resp_bytes;  /* the greeting, before the login record exists */
	uint32_t req_bytes;	      /* request bytes not yet counted into a record */
	/* the commands awaiting responses, and where the response to the oldest is */
	uint8_t cmd_head, cmd_count;
	struct my_cmd cmds[MY_CMDS];
	uint8_t resp;
	bool binary;	  /* rows of the current result in the binary protocol */
	bool result_rows; /* the current record had a result set */
	uint16_t defs_left;
	uint16_t ncols;
	uint16_t col_index; /* column definitions read so far */
	uint64_t col_unsigned;
	uint8_t col_type[MY_COLS];
	uint32_t prep_id; /* COM_STMT_PREPARE response: id, columns, params */
	uint16_t prep_cols, prep_params;
	uint32_t long_stmt; /* COM_STMT_SEND_LONG_DATA since the last execute */
	uint64_t long_params;
	struct my_carry carry[2];
};

static const uint16_t my_ports[] = {3306, 3307, 0};

static uint32_t u24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/* ---- detection ---- */

/*
 * The server speaks first: "Protocol::HandshakeV10", protocol 10, sequence 0, a
 * printable version string. Joined mid-stream, a client command with sequence 0 and a
 * printable statement scores lower; a handshake response (greeting missed) in between.
 */
static int my_detect(const uint8_t *p, uint32_t len, enum dir dir)
{
	uint32_t plen;

	if (len < MY_HEADER + 1)
		return DETECT_NEED_MORE;
	plen = u24(p);
	if (dir == DIR_RESPONSE) {
		uint32_t i;

		if (p[3] != 0 || plen < 20 || plen > MY_GREETING_MAX)
			return DETECT_NOT_MINE;
		if (p[4] == 0xff) /* an ERR instead of the greeting (too many connections) */
			return 40;
		if (p[4] != 10)
			return DETECT_NOT_MINE;
		for (i = MY_HEADER + 1; i < len && i < MY_HEADER + plen && p[i]; i++)
			if (p[i] < 0x20 || p[i] > 0x7e)
				return DETECT_NOT_MINE;
		if (i == len && i < MY_HEADER + plen)
			return DETECT_NEED_MORE;
		return i > MY_HEADER + 1 && i < MY_HEADER + plen ? 100 : DETECT_NOT_MINE;
	}
	if (p[3] == 1 && plen >= 32 && plen <= 4096) {
		uint32_t caps = (uint32_t)p[4] | (uint32_t)p[5] << 8;

		if (len < MY_HEADER + 32)
			return DETECT_NEED_MORE;
		/* PROTOCOL_41, a max packet size below 16 MiB·256, 19 zero filler bytes */
		for (uint32_t i = 13; i < 13 + 19; i++)
			if (p[i])
				return DETECT_NOT_MINE;
		return (caps & CLIENT_PROTOCOL_41) ? (plen == 32 ? 80 : 70) : DETECT_NOT_MINE;
	}
	if (p[3] != 0 || plen < 2 || plen >= MY_PAYLOAD_MAX)
		return DETECT_NOT_MINE;
	if (p[4] == COM_QUERY || p[4] == COM_STMT_PREPARE) {
		uint32_t n = plen - 1 < len - MY_HEADER - 1 ? plen - 1 : len - MY_HEADER - 1;
		uint32_t letters = 0;

		for (uint32_t i = 0; i < n; i++) {
			uint8_t c = p[MY_HEADER + 1 + i];

			if (c < 0x09 || (c > 0x0d && c < 0x20))
				return DETECT_NOT_MINE;
			letters += (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
		}
		if (n < plen - 1 && n < 16)
			return DETECT_NEED_MORE;
		return letters >= 2 ? 45 : DETECT_NOT_MINE;
	}
	return DETECT_NOT_MINE;
}

/* ---- commands and records ---- */

static struct my_cmd *cmd_head(struct my_state *st)
{
	return st->cmd_count ? &st->cmds[st->cmd_head] : NULL;
}

static void cmd_start(struct parse_ctx *ctx, struct my_state *st);

static struct my_cmd *cmd_push(struct parse_ctx *ctx, struct my_state *st, uint8_t com)
{
	struct my_cmd *c;

	if (st->cmd_count == MY_CMDS) {
		parse_count(ctx, MY_COMMANDS_OVERFLOW);
		return NULL;
	}
	c = &st->cmds[(st->cmd_head + st->cmd_count) % MY_CMDS];
	memset(c, 0, sizeof(*c));
	c->com = com;
	st->cmd_count++;
	return c;
}

static void cmd_pop(struct parse_ctx *ctx, struct my_state *st)
{
	if (!st->cmd_count)
		return;
	st->cmd_head = (uint8_t)((st->cmd_head + 1) % MY_CMDS);
	st->cmd_count--;
	cmd_start(ctx, st);
}

static void copy_name(char *dst, uint8_t *dst_len, size_t cap, const char *s, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, s, len);
	*dst_len = (uint8_t)len;
}

static void record_identity(struct my_state *st, struct query_record *rec)
{
	record_add_bytes(rec, DIR_REQUEST, st->req_bytes);
	st->req_bytes = 0;
	if (st->db_len)
		record_set_str(rec, RS_DB, st->db, st->db_len);
	if (st->user_len)
		record_set_str(rec, RS_USER, st->user, st->user_len);
	if (st->app_len)
		record_set_str(rec, RS_APPLICATION, st->app, st->app_len);
}

/* A new record of command c with the connection's identity fields. */
static struct query_record *cmd_record(struct parse_ctx *ctx, struct my_state *st, struct my_cmd *c)
{
	struct query_record *rec;

	if (!c || c->unreported)
		return NULL;
	rec = record_begin(ctx);
	if (!rec) {
		c->unreported = true;
		return NULL;
	}
	c->records++;
	record_identity(st, rec);
	return rec;
}

/* The record the responses of the oldest command belong to. */
static struct query_record *resp_record(struct parse_ctx *ctx, struct my_state *st)
{
	struct my_cmd *c = cmd_head(st);

	if (!c || c->unreported || !c->records)
		return NULL;
	return record_oldest(ctx);
}

/* A record for a command the server does not answer: finished as soon as it is made. */
static struct query_record *unanswered_record(struct parse_ctx *ctx, struct my_state *st,
					      const char *command)
{
	struct query_record *rec = record_begin(ctx);

	record_identity(st, rec);
	record_set_cstr(rec, RS_COMMAND, command);
	return rec;
}

/*
 * The current result is complete. More results follow (SERVER_MORE_RESULTS_EXISTS): the
 * next statement's record takes them, or this one keeps them when it is the last (a CALL
 * returns several). Otherwise the command is done; statements it still has were not run
 * (a multi-statement query stops at its first error).
 */
static void result_done(struct parse_ctx *ctx, struct my_state *st, uint16_t status,
			enum record_status outcome)
{
	struct my_cmd *c = cmd_head(st);
	struct query_record *rec = resp_record(ctx, st);

	if (!c)
		return;
	st->resp = RESP_FIRST;
	st->ncols = 0;
	if (outcome != RECORD_ERROR && (status & SERVER_MORE_RESULTS_EXISTS)) {
		if (rec && c->records > 1) {
			record_finish(ctx, rec, outcome);
			c->records--;
			st->result_rows = false;
		}
		return;
	}
	if (rec) {
		record_finish(ctx, rec, outcome);
		c->records--;
	}
	while (c->records) {
		parse_count(ctx, MY_SKIPPED_AFTER_ERROR);
		record_discard(ctx, record_oldest(ctx));
		c->records--;
	}
	cmd_pop(ctx, st);
}

static void add_rows(struct query_record *rec, int64_t n)
{
	if (!rec)
		return;
	rec->ints[RI_ROWS] += n;
	rec->int_set |= 1u << RI_ROWS;
}

/* ---- statements remembered per connection (stmt_cache.h) ---- */

/*
 * A statement is kept under its 4-byte id (text, parameter count, parameter types as
 * last sent); its result columns under "C" + id, for executions whose metadata the
 * server skips (MariaDB MARIADB_CLIENT_CACHE_METADATA, MySQL resultset_metadata NONE):
 * that entry's text holds the names (u8 length, bytes; repeated) and its param_types
 * each column's type and unsigned flag (0x100).
 */
static struct stmt_entry *stmt_entry_of(struct parse_ctx *ctx, uint32_t id, bool columns,
					bool store)
{
	uint8_t key[5] = {'C', (uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16),
			  (uint8_t)(id >> 24)};
	const uint8_t *k = columns ? key : key + 1;
	size_t n = columns ? 5 : 4;

	return store ? parse_stmt_store(ctx, k, n) : parse_stmt_find(ctx, k, n);
}

static void stmt_forget(struct parse_ctx *ctx, uint32_t id)
{
	uint8_t key[5] = {'C', (uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16),
			  (uint8_t)(id >> 24)};

	parse_stmt_forget(ctx, key + 1, 4);
	parse_stmt_forget(ctx, key, 5);
}

static void set_statement(struct query_record *rec, uint32_t id)
{
	char s[12];
	int n = snprintf(s, sizeof(s), "%" PRIu32, id);

	record_set_str(rec, RS_STATEMENT, s, (size_t)n);
}

/* The statement text; with `verb`, its first keyword is the record's command. */
static void set_query(struct parse_ctx *ctx, struct query_record *rec, const char *q, size_t len,
		      bool verb)
{
	char word[24];
	size_t n;

	/* the command first: a long text may take the rest of the record's arena */
	if (verb && (n = my_verb(q, len, word, sizeof(word))) > 0)
		record_set_str(rec, RS_COMMAND, word, n);
	record_set_str(rec, RS_QUERY, q, len);
	record_value(ctx, rec, VALUE_QUERY, NULL, 0, (const uint8_t *)q, len);
}

/* ---- the connection phase ---- */

/* MySQL "Protocol::HandshakeV10". */
static void my_greeting(struct my_state *st, struct wire *w)
{
	size_t n;
	uint8_t auth_len;

	wire_u8(w); /* protocol version 10 */
	wire_cstr(w, &n);
	wire_skip(w, 4 + 8 + 1); /* connection id, scramble part 1, filler */
	st->server_caps = wire_u16le(w);
	if (wire_left(w) == 0)
		return;
	wire_skip(w, 1 + 2); /* character set, status flags */
	st->server_caps |= (uint32_t)wire_u16le(w) << 16;
	auth_len = wire_u8(w);
	wire_skip(w, 6);
	/* MariaDB: the last 4 reserved bytes are its extended capabilities */
	st->server_ext = wire_u32le(w);
	if (st->server_caps & CLIENT_MYSQL)
		st->server_ext = 0;
	if (st->server_caps & CLIENT_SECURE_CONNECTION)
		wire_skip(w, auth_len > 21 ? auth_len - 8u : 13u);
	if (st->server_caps & CLIENT_PLUGIN_AUTH) {
		const char *plugin = wire_cstr(w, &n);

		if (!w->bad)
			copy_name(st->auth, &st->auth_len, sizeof(st->auth), plugin, n);
	}
}

/* "Connection Attributes" of the handshake response: program_name is the application. */
static void my_attrs(struct my_state *st, struct wire *w)
{
	uint64_t total = my_lenenc(w, NULL);
	struct wire a;

	if (w->bad || total > wire_left(w))
		return;
	a = wire_init(w->p, (size_t)total);
	wire_skip(w, (size_t)total);
	while (wire_left(&a) && !a.bad) {
		size_t klen, vlen;
		const char *k = my_lenenc_str(&a, &klen);
		const char *v = my_lenenc_str(&a, &vlen);

		if (!a.bad && klen == 12 && memcmp(k, "program_name", 12) == 0)
			copy_name(st->app, &st->app_len, sizeof(st->app), v, vlen);
	}
}

/*
 * MySQL "Protocol::HandshakeResponse41" (and the 32-byte "Protocol::SSLRequest" that
 * precedes it when the client switches to TLS), "Protocol::HandshakeResponse320".
 */
static void my_handshake_response(struct parse_ctx *ctx, struct my_state *st, struct wire *w,
				  uint32_t plen)
{
	uint32_t caps = wire_u16le(w);
	struct query_record *rec;
	struct my_cmd *c;
	size_t n;
	const char *s;

	if (caps & CLIENT_PROTOCOL_41) {
		caps |= (uint32_t)wire_u16le(w) << 16;
		wire_skip(w, 4 + 1 + 19); /* max packet, character set, filler */
		st->ext = wire_u32le(w) & st->server_ext;
		if (caps & CLIENT_MYSQL)
			st->ext = 0;
	} else {
		wire_skip(w, 3); /* max packet */
	}
	st->caps = st->server_caps ? caps & st->server_caps : caps;
	st->caps_known = true;
	if (plen == 32 && (caps & CLIENT_SSL)) {
		/* the rest of the handshake goes through TLS */
		if (!parse_conn_is_tls(ctx)) {
			parse_count(ctx, MY_ENCRYPTED);
			parse_conn_set_encrypted(ctx);
		}
		return;
	}
	s = wire_cstr(w, &n);
	if (!w->bad)
		copy_name(st->user, &st->user_len, sizeof(st->user), s, n);
	if (!(caps & CLIENT_PROTOCOL_41)) {
		wire_cstr(w, &n); /* scramble */
		s = wire_cstr(w, &n);
		if ((caps & CLIENT_CONNECT_WITH_DB) && !w->bad)
			copy_name(st->db, &st->db_len, sizeof(st->db), s, n);
	} else {
		if (caps & CLIENT_PLUGIN_AUTH_LENENC)
			my_lenenc_str(w, &n);
		else if (caps & CLIENT_SECURE_CONNECTION)
			wire_skip(w, wire_u8(w));
		else
			wire_cstr(w, &n);
		if (caps & CLIENT_CONNECT_WITH_DB) {
			s = wire_cstr(w, &n);
			if (!w->bad)
				copy_name(st->db, &st->db_len, sizeof(st->db), s, n);
		}
		if (caps & CLIENT_PLUGIN_AUTH) {
			s = wire_cstr(w, &n);
			if (!w->bad && n)
				copy_name(st->auth, &st->auth_len, sizeof(st->auth), s, n);
		}
		if ((caps & CLIENT_CONNECT_ATTRS) && !w->bad)
			my_attrs(st, w);
	}
	w->bad = false; /* what is missing at the end is optional */
	st->compress_next = (st->caps & CLIENT_COMPRESS) != 0;
	st->phase = MY_PHASE_AUTH;
	c = cmd_push(ctx, st, MY_COM_LOGIN);
	rec = cmd_record(ctx, st, c);
	record_set_cstr(rec, RS_COMMAND, "LOGIN");
	record_add_bytes(rec, DIR_RESPONSE, st->pending_resp_bytes);
	st->pending_resp_bytes = 0;
}

/* MySQL "ERR_Packet": error.code is the number, the SQL state leads the message. */
static void my_error(struct query_record *rec, struct wire *w)
{
	char msg[512], num[8];
	size_t n = 0, left;
	uint16_t code;
	int len;

	wire_u8(w);
	code = wire_u16le(w);
	if (w->bad)
		return;
	len = snprintf(num, sizeof(num), "%u", code);
	record_set_str(rec, RS_ERROR_CODE, num, (size_t)len);
	if (wire_left(w) >= 6 && w->p[0] == '#') {
		const uint8_t *state = wire_bytes(w, 6);

		msg[0] = '[';
		memcpy(msg + 1, state + 1, 5);
		msg[6] = ']';
		msg[7] = ' ';
		n = 8;
	}
	left = wire_left(w) < sizeof(msg) - n ? wire_left(w) : sizeof(msg) - n;
	memcpy(msg + n, w->p, left);
	record_set_str(rec, RS_ERROR_MESSAGE, msg, n + left);
}

/* MariaDB progress report: an ERR-like packet with code 0xffff, not an error. */
static bool my_is_progress(const struct my_state *st, const uint8_t *p, uint32_t have)
{
	return have >= 3 && p[0] == 0xff && p[1] == 0xff && p[2] == 0xff &&
	       (!st->caps_known || (st->ext & MARIADB_CLIENT_PROGRESS));
}

/* The login (or COM_CHANGE_USER) is over: ok or refused. */
static void auth_done(struct parse_ctx *ctx, struct my_state *st, struct query_record *rec,
		      enum record_status outcome)
{
	struct my_cmd *c = cmd_head(st);

	st->phase = MY_PHASE_COMMAND;
	if (!c)
		return;
	if (rec) {
		record_finish(ctx, rec, outcome);
		c->records--;
	}
	cmd_pop(ctx, st);
}

/* Server packets until the login's outcome ("Authentication Phase"). */
static void my_auth_response(struct parse_ctx *ctx, struct my_state *st, const uint8_t *p,
			     uint32_t have)
{
	struct query_record *rec = resp_record(ctx, st);
	struct wire w = wire_init(p, have);
	const char *plugin;
	size_t n;

	if (!have)
		return;
	switch (p[0]) {
	case 0x00: /* OK: logged in */
		record_set_str(rec, RS_AUTH, st->auth, st->auth_len);
		auth_done(ctx, st, rec, RECORD_OK);
		if (st->compress_next) {
			/* "Compression": every packet from here on is in a compressed frame */
			st->compress_next = false;
			st->compressed = true;
			parse_count(ctx, MY_COMPRESSED);
		}
		return;
	case 0xff:
		if (my_is_progress(st, p, have))
			return;
		record_set_str(rec, RS_AUTH, st->auth, st->auth_len);
		my_error(rec, &w);
		st->compress_next = false;
		auth_done(ctx, st, rec, RECORD_ERROR);
		return;
	case 0xfe: /* AuthSwitchRequest: the plugin the server wants */
	case 0x02: /* MySQL 8 AuthNextFactor */
		wire_u8(&w);
		plugin = wire_cstr(&w, &n);
		if (!w.bad && n)
			copy_name(st->auth, &st->auth_len, sizeof(st->auth), plugin, n);
		else if (p[0] == 0xfe && have == 1) /* the old switch: mysql_old_password */
			copy_name(st->auth, &st->auth_len, sizeof(st->auth), "mysql_old_password",
				  18);
		return;
	default: /* AuthMoreData (caching_sha2_password fast/full auth, keys): nothing kept */
		return;
	}
}

/* ---- commands ---- */

/*
 * Parameters of COM_STMT_EXECUTE (or of a COM_QUERY with query attributes): NULL bitmap,
 * new-params-bound flag, types (sent again only when bound anew), binary values.
 */
static void my_params(struct parse_ctx *ctx, struct my_state *st, struct query_record *rec,
		      struct wire *w, uint32_t nparams, struct stmt_entry *e, bool named,
		      uint32_t stmt_id)
{
	uint16_t types[MY_PARAMS_MAX];
	const char *cols[STMT_PARAMS_MAX];
	uint32_t col_lens[STMT_PARAMS_MAX];
	const uint8_t *nulls = wire_bytes(w, (nparams + 7) / 8);
	uint8_t bound = wire_u8(w);
	uint32_t known = nparams < MY_PARAMS_MAX ? nparams : MY_PARAMS_MAX;

	if (w->bad)
		return;
	if (bound) {
		for (uint32_t i = 0; i < nparams && !w->bad; i++) {
			uint16_t t = wire_u16le(w);
			size_t n;

			if (named)
				my_lenenc_str(w, &n);
			if (i < MY_PARAMS_MAX)
				types[i] = t;
			if (e && i < STMT_PARAMS_MAX)
				e->param_types[i] = t | MY_TYPE_KNOWN;
		}
	} else {
		/* the types sent with an earlier execution of the statement */
		if (!e)
			return;
		known = known < STMT_PARAMS_MAX ? known : STMT_PARAMS_MAX;
		for (uint32_t i = 0; i < known; i++) {
			if (!(e->param_types[i] & MY_TYPE_KNOWN))
				return;
			types[i] = (uint16_t)e->param_types[i];
		}
	}
	record_param_columns(ctx, e, false, cols, col_lens,
			     known < STMT_PARAMS_MAX ? known : STMT_PARAMS_MAX);
	for (uint32_t i = 0; i < known && !w->bad; i++) {
		bool is_null = nulls[i / 8] & (1u << (i % 8));
		char text[64];
		const char *v;
		size_t len;

		if (is_null) {
			v = "NULL";
			len = 4;
		} else if (stmt_id == st->long_stmt && i < 64 && (st->long_params >> i & 1)) {
			v = "<long data>"; /* sent before by COM_STMT_SEND_LONG_DATA */
			len = 11;
		} else {
			v = my_binary_value((uint8_t)types[i], (types[i] & 0x8000) != 0, w, text,
					    sizeof(text), &len);
			if (!v)
				break;
			record_value(ctx, rec, VALUE_PARAM, i < STMT_PARAMS_MAX ? cols[i] : NULL,
				     i < STMT_PARAMS_MAX ? col_lens[i] : 0, (const uint8_t *)v,
				     len);
		}
		record_list_add(rec, RL_PARAMS, v, len);
	}
	if (w->bad)
		parse_count(ctx, MY_MALFORMED);
}

/* COM_QUERY: one record per statement; query attributes (MySQL 8) come first. */
static void my_query(struct parse_ctx *ctx, struct my_state *st, struct my_cmd *c, struct wire *w)
{
	uint32_t start[MY_STATEMENTS_MAX], end[MY_STATEMENTS_MAX], n = 1;
	struct query_record *first = NULL;
	size_t qlen;
	const char *q;

	if (st->caps & CLIENT_QUERY_ATTRIBUTES) {
		uint64_t count = my_lenenc(w, NULL);

		my_lenenc(w, NULL); /* parameter sets: always 1 */
		if (count && !w->bad) {
			first = cmd_record(ctx, st, c);
			my_params(ctx, st, first, w, (uint32_t)(count < 65536 ? count : 65535),
				  NULL, true, MY_STMT_LAST);
		}
	}
	qlen = wire_left(w);
	q = (const char *)w->p;
	if (!st->caps_known || (st->caps & CLIENT_MULTI_STATEMENTS))
		n = my_split(q, qlen, start, end, MY_STATEMENTS_MAX);
	if (n <= 1) { /* one statement (or none: the server answers with an error) */
		start[0] = 0;
		end[0] = (uint32_t)qlen;
		n = 1;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct query_record *rec = i == 0 && first ? first : cmd_record(ctx, st, c);

		set_query(ctx, rec, q + start[i], end[i] - start[i], true);
		if (rec && !(rec->str_set & (1u << RS_COMMAND)))
			record_set_cstr(rec, RS_COMMAND, "QUERY");
	}
}

/* COM_STMT_EXECUTE: the statement's text from the cache, its parameters as text. */
static void my_execute(struct parse_ctx *ctx, struct my_state *st, struct my_cmd *c, struct wire *w)
{
	uint32_t id = wire_u32le(w), nparams;
	uint8_t flags = wire_u8(w);
	struct stmt_entry *e = stmt_entry_of(ctx, id, false, false);
	struct query_record *rec;

	wire_skip(w, 4); /* iteration count */
	c->stmt_id = id;
	rec = cmd_record(ctx, st, c);
	record_set_cstr(rec, RS_COMMAND, "EXECUTE");
	if (id != MY_STMT_LAST)
		set_statement(rec, id);
	if (!e) {
		parse_count(ctx, MY_UNKNOWN_STATEMENT);
		return;
	}
	set_query(ctx, rec, e->text, e->text_len, true);
	nparams = e->nparams;
	if ((st->caps & CLIENT_QUERY_ATTRIBUTES) && (nparams || (flags & 0x08)))
		nparams = (uint32_t)my_lenenc(w, NULL); /* PARAMETER_COUNT_AVAILABLE */
	if (nparams && !w->bad)
		my_params(ctx, st, rec, w, nparams, e, (st->caps & CLIENT_QUERY_ATTRIBUTES) != 0,
			  id);
	if (id == st->long_stmt)
		st->long_params = 0;
}

/* COM_CHANGE_USER: a new login on the same connection. */
static void my_change_user(struct parse_ctx *ctx, struct my_state *st, struct my_cmd *c,
			   struct wire *w)
{
	struct query_record *rec;
	size_t n;
	const char *s = wire_cstr(w, &n);

	if (!w->bad)
		copy_name(st->user, &st->user_len, sizeof(st->user), s, n);
	if (st->caps & CLIENT_SECURE_CONNECTION)
		wire_skip(w, wire_u8(w));
	else
		wire_cstr(w, &n);
	s = wire_cstr(w, &n);
	if (!w->bad)
		copy_name(st->db, &st->db_len, sizeof(st->db), s, n);
	wire_skip(w, 2); /* character set */
	if ((st->caps & CLIENT_PLUGIN_AUTH) && !w->bad) {
		s = wire_cstr(w, &n);
		if (!w->bad && n)
			copy_name(st->auth, &st->auth_len, sizeof(st->auth), s, n);
	}
	if ((st->caps & CLIENT_CONNECT_ATTRS) && !w->bad)
		my_attrs(st, w);
	w->bad = false;
	st->phase = MY_PHASE_AUTH;
	rec = cmd_record(ctx, st, c);
	record_set_cstr(rec, RS_COMMAND, "CHANGE_USER");
}

/* COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA have no response. */
static void my_unanswered_stmt(struct parse_ctx *ctx, struct my_state *st, uint8_t com,
			       struct wire *w)
{
	uint32_t id = wire_u32le(w);
	struct query_record *rec = unanswered_record(ctx, st, my_com_names[com]);
	struct stmt_entry *e = stmt_entry_of(ctx, id, false, false);

	set_statement(rec, id);
	if (e)
		set_query(ctx, rec, e->text, e->text_len, false);
	if (com == COM_STMT_CLOSE) {
		stmt_forget(ctx, id);
	} else {
		uint16_t param = wire_u16le(w);

		if (st->long_stmt != id)
			st->long_params = 0;
		st->long_stmt = id;
		if (param < 64)
			st->long_params |= 1ull << param;
		record_value(ctx, rec, VALUE_PARAM, NULL, 0, w->p, wire_left(w));
	}
	record_finish(ctx, rec, RECORD_OK);
}

/* A command packet (sequence 0): the record(s) it makes, and what its response is. */
static void my_command(struct parse_ctx *ctx, struct my_state *st, const uint8_t *p, uint32_t have)
{
	struct wire w = wire_init(p + 1, have - 1);
	uint8_t com = p[0];
	const char *name =
		com < sizeof(my_com_names) / sizeof(my_com_names[0]) ? my_com_names[com] : NULL;
	struct query_record *rec;
	struct stmt_entry *e;
	struct my_cmd *c;
	char other[16];
	size_t n;

	if (com == COM_QUIT) { /* the server closes the connection without an answer */
		record_finish(ctx, unanswered_record(ctx, st, name), RECORD_OK);
		return;
	}
	if (com == COM_STMT_CLOSE || com == COM_STMT_SEND_LONG_DATA) {
		my_unanswered_stmt(ctx, st, com, &w);
		return;
	}
	c = cmd_push(ctx, st, com);
	if (!c)
		return;
	switch (com) {
	case COM_QUERY:
		my_query(ctx, st, c, &w);
		break;
	case COM_STMT_PREPARE: {
		size_t qlen = wire_left(&w);
		const char *q = (const char *)w.p;

		rec = cmd_record(ctx, st, c);
		record_set_cstr(rec, RS_COMMAND, name);
		set_query(ctx, rec, q, qlen, false);
		/* kept as "the statement prepared last" until the server tells its id */
		e = stmt_entry_of(ctx, MY_STMT_LAST, false, true);
		e->truncated = qlen > STMT_TEXT_MAX;
		e->text_len = (uint16_t)(e->truncated ? STMT_TEXT_MAX : qlen);
		memcpy(e->text, q, e->text_len);
		e->nparams = (uint16_t)my_placeholders(q, qlen);
		memset(e->param_types, 0, sizeof(e->param_types));
		break;
	}
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE:
		if (com == COM_STMT_EXECUTE) {
			my_execute(ctx, st, c, &w);
			break;
		}
		c->stmt_id = wire_u32le(&w);
		rec = cmd_record(ctx, st, c);
		record_set_cstr(rec, RS_COMMAND, "BULK_EXECUTE");
		set_statement(rec, c->stmt_id);
		e = stmt_entry_of(ctx, c->stmt_id, false, false);
		if (e)
			set_query(ctx, rec, e->text, e->text_len, false);
		break;
	case COM_STMT_RESET:
	case COM_STMT_FETCH:
		c->stmt_id = wire_u32le(&w);
		rec = cmd_record(ctx, st, c);
		record_set_cstr(rec, RS_COMMAND, name);
		set_statement(rec, c->stmt_id);
		e = stmt_entry_of(ctx, c->stmt_id, false, false);
		if (e)
			set_query(ctx, rec, e->text, e->text_len, false);
		break;
	case COM_INIT_DB:
		n = wire_left(&w);
		copy_name(st->pending_db, &st->pending_db_len, sizeof(st->pending_db),
			  (const char *)w.p, n);
		rec = cmd_record(ctx, st, c);
		record_set_cstr(rec, RS_COMMAND, name);
		record_set_str(rec, RS_DB, st->pending_db, st->pending_db_len);
		break;
	case COM_CHANGE_USER:
		my_change_user(ctx, st, c, &w);
		break;
	default:
		if (!name) {
			snprintf(other, sizeof(other), "COM_0x%02x", com);
			name = other;
		}
		rec = cmd_record(ctx, st, c);
		record_set_cstr(rec, RS_COMMAND, name);
		break;
	}
	if (c == cmd_head(st))
		cmd_start(ctx, st);
}

static void cached_columns(struct parse_ctx *ctx, struct my_state *st, struct query_record *rec,
			   uint32_t id);

/* The oldest command's response starts: what its first packet will be. */
static void cmd_start(struct parse_ctx *ctx, struct my_state *st)
{
	struct my_cmd *c = cmd_head(st);

	st->resp = RESP_FIRST;
	st->ncols = 0;
	st->result_rows = false;
	st->binary = false;
	if (!c)
		return;
	switch (c->com) {
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE:
		st->binary = true;
		break;
	case COM_STMT_FETCH: /* rows of the cursor the execute opened, in its column types */
		st->binary = true;
		st->resp = RESP_ROWS;
		cached_columns(ctx, st, resp_record(ctx, st), c->stmt_id);
		break;
	case COM_FIELD_LIST:
		st->resp = RESP_FIELDS;
		break;
	case COM_STATISTICS:
		st->resp = RESP_STRING;
		break;
	case COM_BINLOG_DUMP:
	case COM_BINLOG_DUMP_GTID:
		st->resp = RESP_STREAM;
		break;
	default:
		break;
	}
}

/* ---- responses ---- */

/*
 * MySQL "Column Definition" (Protocol::ColumnDefinition41); MariaDB adds extended type
 * information after org_name when MARIADB_CLIENT_EXTENDED_METADATA was agreed.
 */
static const char *my_coldef(const struct my_state *st, struct wire *w, size_t *name_len,
			     uint8_t *type, uint16_t *flags)
{
	const char *name;
	size_t n;

	for (int i = 0; i < 4; i++)
		my_lenenc_str(w, &n); /* catalog, schema, table, org_table */
	name = my_lenenc_str(w, name_len);
	my_lenenc_str(w, &n); /* org_name */
	if (w->bad)
		return NULL;
	if ((st->ext & MARIADB_CLIENT_EXTENDED_METADATA) ||
	    (!st->caps_known && wire_left(w) && w->p[0] != 0x0c))
		my_lenenc_str(w, &n);
	my_lenenc(w, NULL);  /* length of the fixed fields: 0x0c */
	wire_skip(w, 2 + 4); /* character set, column length */
	*type = wire_u8(w);
	*flags = wire_u16le(w);
	return name;
}

/*
 * A column definition of the current result: its name to the record (the first result's
 * only), its type for binary rows, both to `remember` (the statement's column entry).
 */
static void result_column(struct parse_ctx *ctx, struct my_state *st, struct query_record *rec,
			  const uint8_t *p, uint32_t have, struct stmt_entry *remember)
{
	struct wire w = wire_init(p, have);
	uint8_t type = 0;
	uint16_t flags = 0;
	size_t len;
	const char *name = my_coldef(st, &w, &len, &type, &flags);
	uint16_t i = st->col_index++;

	if (!name) {
		parse_count(ctx, MY_MALFORMED);
		return;
	}
	if (!st->result_rows)
		record_list_add(rec, RL_COLUMNS, name, len);
	if (i < MY_COLS) {
		st->col_type[i] = type;
		if (flags & 0x20) /* UNSIGNED_FLAG */
			st->col_unsigned |= 1ull << i;
	}
	if (remember && i < STMT_PARAMS_MAX) {
		if (remember->text_len + 1u + len <= STMT_TEXT_MAX && len < 256) {
			remember->text[remember->text_len] = (char)len;
			memcpy(remember->text + remember->text_len + 1, name, len);
			remember->text_len = (uint16_t)(remember->text_len + 1 + len);
		}
		remember->param_types[i] = type | (flags & 0x20 ? 0x100u : 0);
		remember->nparams = (uint16_t)(i + 1);
	}
}

/* Columns the server did not send again: as remembered for statement id. */
static void cached_columns(struct parse_ctx *ctx, struct my_state *st, struct query_record *rec,
			   uint32_t id)
{
	struct stmt_entry *e = stmt_entry_of(ctx, id, true, false);
	uint32_t off = 0;

	if (!e)
		return;
	if (rec && rec->list_count[RL_COLUMNS])
		rec = NULL; /* names known already */
	st->ncols = e->nparams;
	st->col_unsigned = 0;
	for (uint32_t i = 0; i < e->nparams && i < STMT_PARAMS_MAX; i++) {
		if (i < MY_COLS) {
			st->col_type[i] = (uint8_t)e->param_types[i];
			if (e->param_types[i] & 0x100)
				st->col_unsigned |= 1ull << i;
		}
		if (off < e->text_len) {
			uint8_t len = (uint8_t)e->text[off];

			if (off + 1u + len <= e->text_len)
				record_list_add(rec, RL_COLUMNS, e->text + off + 1, len);
			off += 1u + len;
		}
	}
}

/* A row: counted, its values handed to the PII engine with their column names. */
static void result_row(struct parse_ctx *ctx, struct my_state *st, struct query_record *rec,
		       const uint8_t *p, uint32_t have)
{
	struct wire w = wire_init(p, have);
	const uint8_t *nulls = NULL;
	uint32_t cursor = 0;

	if (!rec)
		return;
	add_rows(rec, 1);
	if (st->binary) { /* "Binary Protocol Resultset Row": 0x00, NULL bitmap (offset 2) */
		wire_u8(&w);
		nulls = wire_bytes(&w, (st->ncols + 7u + 2u) / 8u);
	}
	for (uint32_t i = 0; i < st->ncols && !w.bad && wire_left(&w); i++) {
		size_t col_len = 0, len = 0;
		const char *col = record_list_next(rec, RL_COLUMNS, &cursor, &col_len);
		const char *v;
		char text[64];

		if (nulls) {
			if (nulls[(i + 2) / 8] & (1u << ((i + 2) % 8)))
				continue;
			if (i >= MY_COLS)
				break;
			v = my_binary_value(st->col_type[i], (st->col_unsigned >> i) & 1, &w, text,
					    sizeof(text), &len);
		} else {
			int is_null;
			uint64_t n = my_lenenc(&w, &is_null);

			if (is_null)
				continue;
			if (n > wire_left(&w))
				n = wire_left(&w); /* the head of a value longer than we keep */
			v = (const char *)wire_bytes(&w, (size_t)n);
			len = (size_t)n;
		}
		if (!v)
			break;
		record_value(ctx, rec, VALUE_RESULT, col, col ? col_len : 0, (const uint8_t *)v,
			     len);
	}
}

/*
 * MySQL "OK_Packet" (also the 0xfe terminator with CLIENT_DEPRECATE_EOF: 7 bytes or more)
 * and "EOF_Packet" (5 bytes). A schema change in the session state (SESSION_TRACK_SCHEMA,
 * e.g. after "USE db") becomes the db of later records.
 */
static uint16_t my_ok(struct my_state *st, struct wire *w, uint32_t plen, uint64_t *affected)
{
	uint16_t status;
	uint64_t total;
	struct wire s;
	size_t n;

	wire_u8(w);
	*affected = 0;
	if (plen < 7) {	       /* EOF */
		wire_u16le(w); /* warnings */
		return wire_u16le(w);
	}
	*affected = my_lenenc(w, NULL);
	my_lenenc(w, NULL); /* last insert id */
	status = wire_u16le(w);
	wire_u16le(w); /* warnings */
	if (!(status & SERVER_SESSION_STATE_CHANGED) || w->bad ||
	    (st->caps_known && !(st->caps & CLIENT_SESSION_TRACK)))
		return status;
	my_lenenc_str(w, &n); /* info */
	total = my_lenenc(w, NULL);
	if (w->bad || total > wire_left(w))
		return status;
	s = wire_init(w->p, (size_t)total);
	while (wire_left(&s) && !s.bad) {
		uint8_t type = wire_u8(&s);
		const char *data = my_lenenc_str(&s, &n);

		if (type == SESSION_TRACK_SCHEMA && !s.bad) {
			struct wire d = wire_init((const uint8_t *)data, n);
			const char *db = my_lenenc_str(&d, &n);

			if (!d.bad)
				copy_name(st->db, &st->db_len, sizeof(st->db), db, n);
		}
	}
	return status;
}

/* The column count opens a result set ("Text Resultset", "Binary Protocol Resultset"). */
static void result_start(struct parse_ctx *ctx, struct my_state *st, struct query_record *rec,
			 struct my_cmd *c, const uint8_t *p, uint32_t have)
{
	struct wire w = wire_init(p, have);
	uint64_t ncols = my_lenenc(&w, NULL);
	bool metadata = true;
	struct stmt_entry *e;

	/* MariaDB cached metadata / MySQL optional metadata: one more byte, 0 = none sent */
	if (wire_left(&w) >= 1)
		metadata = wire_u8(&w) != 0;
	if (w.bad || ncols == 0) {
		parse_count(ctx, MY_MALFORMED);
		return;
	}
	st->ncols = (uint16_t)(ncols < 65535 ? ncols : 65535);
	st->col_index = 0;
	st->col_unsigned = 0;
	if (metadata) {
		st->defs_left = st->ncols;
		st->resp = RESP_COLDEFS;
		if (c->com == COM_STMT_EXECUTE && c->stmt_id != MY_STMT_LAST) {
			/* the statement's columns as of now, for executions that skip them */
			e = stmt_entry_of(ctx, c->stmt_id, true, true);
			e->nparams = 0;
		}
		return;
	}
	if (c->com == COM_STMT_EXECUTE)
		cached_columns(ctx, st, rec, c->stmt_id);
	st->resp =
		st->caps_known && (st->caps & CLIENT_DEPRECATE_EOF) ? RESP_ROWS : RESP_COLDEFS_EOF;
}

/* COM_STMT_PREPARE_OK ("COM_STMT_PREPARE Response"): the id the statement is known by. */
static void prepare_ok(struct parse_ctx *ctx, struct my_state *st, struct query_record *rec,
		       struct wire *w)
{
	char text[STMT_TEXT_MAX];
	struct stmt_entry *e;
	uint16_t text_len = 0;
	uint8_t truncated = 0;

	wire_u8(w);
	st->prep_id = wire_u32le(w);
	st->prep_cols = wire_u16le(w);
	st->prep_params = wire_u16le(w);
	if (w->bad) {
		parse_count(ctx, MY_MALFORMED);
		return;
	}
	set_statement(rec, st->prep_id);
	e = stmt_entry_of(ctx, MY_STMT_LAST, false, false);
	if (e) {
		text_len = e->text_len;
		truncated = e->truncated;
		memcpy(text, e->text, text_len);
		e->nparams = st->prep_params;
	}
	e = stmt_entry_of(ctx, st->prep_id, false, true);
	e->text_len = text_len;
	e->truncated = truncated;
	memcpy(e->text, text, text_len);
	e->nparams = st->prep_params;
	memset(e->param_types, 0, sizeof(e->param_types));
	e = stmt_entry_of(ctx, st->prep_id, true, true);
	e->nparams = 0;
	st->col_index = 0;
	st->col_unsigned = 0;
	st->ncols = st->prep_cols;
	st->resp = RESP_PREP_PARAMS;
	st->defs_left = st->prep_params;
}

/* Whether the packet ends a list of definitions or rows: EOF, or OK with 0xfe. */
static bool is_terminator(const uint8_t *p, uint32_t have, bool big)
{
	/* a row starts with 0xfe only for a first value of 16 MiB or more: a continued packet */
	return have >= 1 && p[0] == 0xfe && !big;
}

/* The definitions of a COM_STMT_PREPARE response: parameters, then columns, each + EOF. */
static void prepare_defs(struct parse_ctx *ctx, struct my_state *st, struct query_record *rec,
			 const uint8_t *p, uint32_t have, bool big)
{
	bool deprecate = st->caps_known && (st->caps & CLIENT_DEPRECATE_EOF);

	if (st->defs_left == 0) { /* the EOF after a list */
		if (!is_terminator(p, have, big))
			parse_count(ctx, MY_MALFORMED);
	} else {
		if (st->resp == RESP_PREP_COLS)
			result_column(ctx, st, rec, p, have,
				      stmt_entry_of(ctx, st->prep_id, true, false));
		if (--st->defs_left || !deprecate)
			return;
	}
	if (st->resp == RESP_PREP_PARAMS && st->prep_cols) {
		st->resp = RESP_PREP_COLS;
		st->defs_left = st->prep_cols;
		return;
	}
	result_done(ctx, st, 0, RECORD_OK);
}

/* The first packet of a response: OK, EOF, LOCAL INFILE, PREPARE_OK or a column count. */
static void result_first(struct parse_ctx *ctx, struct my_state *st, struct my_cmd *c,
			 struct query_record *rec, const uint8_t *p, uint32_t have, uint32_t plen)
{
	struct wire w = wire_init(p, have);
	uint64_t affected;
	uint16_t status;

	if (c->com == COM_STMT_PREPARE && p[0] == 0x00) {
		prepare_ok(ctx, st, rec, &w);
		if (st->resp == RESP_PREP_PARAMS && st->defs_left == 0) {
			st->resp = RESP_PREP_COLS;
			st->defs_left = st->prep_cols;
		}
		if (st->resp == RESP_PREP_COLS && st->defs_left == 0)
			result_done(ctx, st, 0, RECORD_OK);
		return;
	}
	if ((p[0] == 0x00 && plen >= 7) || (p[0] == 0xfe && plen < 9)) {
		status = my_ok(st, &w, plen, &affected);
		if (!st->result_rows && p[0] == 0x00 &&
		    (c->com == COM_QUERY || c->com == COM_STMT_EXECUTE ||
		     c->com == COM_STMT_BULK_EXECUTE))
			record_set_int(rec, RI_ROWS, (int64_t)affected); /* affected rows */
		if (c->com == COM_INIT_DB)
			copy_name(st->db, &st->db_len, sizeof(st->db), st->pending_db,
				  st->pending_db_len);
		result_done(ctx, st, status, RECORD_OK);
		return;
	}
	if (p[0] == 0xfb && c->com == COM_QUERY) { /* "LOCAL INFILE Request" */
		st->resp = RESP_INFILE;
		return;
	}
	result_start(ctx, st, rec, c, p, have);
}

/* A result's terminator (EOF or OK with 0xfe) or the EOF after its definitions. */
static void result_end(struct parse_ctx *ctx, struct my_state *st, struct query_record *rec,
		       const uint8_t *p, uint32_t have, uint32_t plen, bool after_defs)
{
	struct wire w = wire_init(p, have);
	uint64_t affected;
	uint16_t status = my_ok(st, &w, plen, &affected);

	if (rec && !(rec->int_set & (1u << RI_ROWS)))
		record_set_int(rec, RI_ROWS, 0);
	st->result_rows = true;
	if (after_defs && !(status & SERVER_STATUS_CURSOR_EXISTS))
		st->resp = RESP_ROWS;
	else /* the last row, or a cursor opened: its rows come by COM_STMT_FETCH */
		result_done(ctx, st, status, RECORD_OK);
}

/* One response packet (its head when it is long) for the oldest command. */
static void my_result(struct parse_ctx *ctx, struct my_state *st, const uint8_t *p, uint32_t have,
		      uint32_t plen, bool big)
{
	struct my_cmd *c = cmd_head(st);
	struct query_record *rec = resp_record(ctx, st);
	struct wire w = wire_init(p, have);

	if (!c) {
		parse_count(ctx, MY_UNMATCHED);
		return;
	}
	if (have == 0) {
		if (st->resp == RESP_STRING)
			result_done(ctx, st, 0, RECORD_OK);
		return;
	}
	if (p[0] == 0xff && !big && st->resp != RESP_STRING) {
		if (my_is_progress(st, p, have))
			return;
		my_error(rec, &w);
		result_done(ctx, st, 0, RECORD_ERROR);
		return;
	}
	switch (st->resp) {
	case RESP_FIRST:
	case RESP_INFILE:
		result_first(ctx, st, c, rec, p, have, plen);
		return;
	case RESP_COLDEFS:
		result_column(ctx, st, rec, p, have,
			      c->com == COM_STMT_EXECUTE && c->stmt_id != MY_STMT_LAST
				      ? stmt_entry_of(ctx, c->stmt_id, true, false)
				      : NULL);
		if (--st->defs_left == 0)
			st->resp = st->caps_known && (st->caps & CLIENT_DEPRECATE_EOF)
					   ? RESP_ROWS
					   : RESP_COLDEFS_EOF;
		return;
	case RESP_COLDEFS_EOF:
		if (is_terminator(p, have, big)) {
			result_end(ctx, st, rec, p, have, plen, true);
			return;
		}
		st->resp = RESP_ROWS; /* no EOF after all (joined mid-stream) */
				      /* fall through */
	case RESP_ROWS:
		if (is_terminator(p, have, big)) {
			result_end(ctx, st, rec, p, have, plen, false);
			return;
		}
		st->result_rows = true;
		result_row(ctx, st, rec, p, have);
		return;
	case RESP_PREP_PARAMS:
	case RESP_PREP_COLS:
		prepare_defs(ctx, st, rec, p, have, big);
		return;
	case RESP_FIELDS:
		if (is_terminator(p, have, big))
			result_done(ctx, st, 0, RECORD_OK);
		else
			result_column(ctx, st, rec, p, have, NULL);
		return;
	case RESP_STRING:
		result_done(ctx, st, 0, RECORD_OK);
		return;
	case RESP_STREAM:
		if (is_terminator(p, have, big) && plen < 9)
			result_done(ctx, st, 0, RECORD_OK);
		else
			add_rows(rec, 1);
		return;
	default:
		return;
	}
}

/* ---- packets ---- */

static void my_request(struct parse_ctx *ctx, struct my_state *st, uint8_t seq, const uint8_t *p,
		       uint32_t have, uint32_t plen)
{
	struct wire w = wire_init(p, have);

	if (st->phase == MY_PHASE_START) /* joined after the greeting, or mid-stream */
		st->phase = seq == 1 && plen >= 32 ? MY_PHASE_HANDSHAKE : MY_PHASE_COMMAND;
	switch (st->phase) {
	case MY_PHASE_HANDSHAKE:
		my_handshake_response(ctx, st, &w, plen);
		if (w.bad)
			parse_count(ctx, MY_MALFORMED);
		return;
	case MY_PHASE_AUTH: /* data for the authentication plugin: never looked into */
		return;
	default:
		break;
	}
	if (seq != 0 || have == 0) {
		/* LOCAL INFILE contents (an empty packet ends them), or a stray packet */
		if (!cmd_head(st) || st->resp != RESP_INFILE)
			parse_count(ctx, MY_UNMATCHED);
		return;
	}
	my_command(ctx, st, p, have);
}

/* Refused before the login (host blocked, too many connections): ERR for a greeting. */
static void my_refused(struct parse_ctx *ctx, struct my_state *st, struct wire *w)
{
	struct my_cmd *c = cmd_push(ctx, st, MY_COM_LOGIN);
	struct query_record *rec = cmd_record(ctx, st, c);

	record_set_cstr(rec, RS_COMMAND, "LOGIN");
	record_add_bytes(rec, DIR_RESPONSE, st->pending_resp_bytes);
	st->pending_resp_bytes = 0;
	my_error(rec, w);
	auth_done(ctx, st, rec, RECORD_ERROR);
}

static void my_response(struct parse_ctx *ctx, struct my_state *st, uint8_t seq, const uint8_t *p,
			uint32_t have, uint32_t plen, bool big)
{
	struct wire w = wire_init(p, have);

	if (st->phase == MY_PHASE_START) {
		if (seq == 0 && have && p[0] == 10) {
			my_greeting(st, &w);
			st->phase = MY_PHASE_HANDSHAKE;
			return;
		}
		st->phase =
			seq == 0 && have && p[0] == 0xff ? MY_PHASE_HANDSHAKE : MY_PHASE_COMMAND;
	}
	switch (st->phase) {
	case MY_PHASE_HANDSHAKE:
		if (have && p[0] == 0xff)
			my_refused(ctx, st, &w);
		else
			parse_count(ctx, MY_UNMATCHED);
		return;
	case MY_PHASE_AUTH:
		my_auth_response(ctx, st, p, have);
		return;
	default:
		my_result(ctx, st, p, have, plen, big);
		return;
	}
}

/*
 * One packet of dir: `have` bytes of its `plen`-byte payload (fewer when it is longer than
 * we buffer), `wire_bytes` the bytes it took on the wire. A packet of 0xffffff bytes is
 * continued by the next one: the head of the first is parsed, continuations only counted.
 */
static void my_packet(struct parse_ctx *ctx, struct my_state *st, enum dir dir, uint8_t seq,
		      const uint8_t *p, uint32_t have, uint32_t plen, uint32_t wire_bytes)
{
	bool command =
		dir == DIR_REQUEST && seq == 0 && st->phase == MY_PHASE_COMMAND && !st->cont[dir];
	bool continued = st->cont[dir];

	if (!command && st->seq_known && seq != st->seq_next)
		parse_count(ctx, MY_SEQ_MISMATCH);
	st->seq_known = true;
	st->seq_next = (uint8_t)(seq + 1);
	st->cont[dir] = plen == MY_PAYLOAD_MAX;
	if (dir == DIR_RESPONSE) {
		struct query_record *rec = resp_record(ctx, st);

		if (rec)
			record_add_bytes(rec, DIR_RESPONSE, wire_bytes);
		else if (st->phase < MY_PHASE_COMMAND)
			st->pending_resp_bytes += wire_bytes;
		if (!continued)
			my_response(ctx, st, seq, p, have, plen, st->cont[dir]);
		return;
	}
	st->req_bytes += wire_bytes;
	if (!continued)
		my_request(ctx, st, seq, p, have, plen);
	if (st->req_bytes) { /* bytes no new record took: part of the exchange in progress */
		record_add_bytes(resp_record(ctx, st), DIR_REQUEST, st->req_bytes);
		if (resp_record(ctx, st) || st->phase == MY_PHASE_COMMAND)
			st->req_bytes = 0;
	}
}

/* ---- the compressed protocol ---- */

/*
 * The packet stream inside compressed frames (MySQL "Compression", "Compressed Packet"):
 * packets may be cut by frame boundaries, so a cut packet's header and head wait in the
 * carry of its direction; the frame's wire bytes go to the first packet it completes.
 */
static void my_inner(struct parse_ctx *ctx, struct my_state *st, enum dir dir, const uint8_t *p,
		     uint32_t len, uint32_t frame_bytes)
{
	struct my_carry *k = &st->carry[dir];

	while (len) {
		if (k->hdr_have == 0 && len >= MY_HEADER && MY_HEADER + u24(p) <= len) {
			/* a whole packet inside the frame: parsed in place */
			uint32_t plen = u24(p);

			my_packet(ctx, st, dir, p[3], p + MY_HEADER, plen, plen, frame_bytes);
			frame_bytes = 0;
			p += MY_HEADER + plen;
			len -= MY_HEADER + plen;
			continue;
		}
		if (k->hdr_have < MY_HEADER) {
			k->hdr[k->hdr_have++] = *p++;
			len--;
			if (k->hdr_have < MY_HEADER)
				continue;
			k->len = k->left = u24(k->hdr);
			k->have = 0;
		} else {
			uint32_t n = len < k->left ? len : k->left;
			uint32_t room = MY_CARRY - (uint32_t)k->have;
			uint32_t keep = room < n ? room : n;

			memcpy(k->buf + k->have, p, keep);
			k->have = (uint16_t)(k->have + keep);
			k->left -= n;
			p += n;
			len -= n;
		}
		if (k->left == 0) {
			my_packet(ctx, st, dir, k->hdr[3], k->buf, k->have, k->len, frame_bytes);
			frame_bytes = 0;
			k->hdr_have = 0;
			k->have = 0;
		}
	}
	if (frame_bytes) { /* the frame ended inside a packet: its bytes still count */
		if (dir == DIR_RESPONSE)
			record_add_bytes(resp_record(ctx, st), DIR_RESPONSE, frame_bytes);
		else
			st->req_bytes += frame_bytes;
	}
}

/* zlib state and output of this thread: set up once, reset per frame (no allocation). */
static _Thread_local z_stream my_zs;
static _Thread_local bool my_zs_ready;
static _Thread_local uint8_t my_inflated[16384];

static struct parse_result my_compressed(struct parse_ctx *ctx, struct my_state *st, enum dir dir,
					 const uint8_t *p, uint32_t len)
{
	uint32_t clen, ulen, total, produced = 0, frame_bytes;
	int rc = Z_OK;

	if (len < MY_COMPRESSED_HEADER)
		return (struct parse_result){PARSE_MORE, 0, MY_COMPRESSED_HEADER};
	clen = u24(p);
	ulen = u24(p + 4);
	total = MY_COMPRESSED_HEADER + clen;
	if (total > len) {
		if (total <= parse_max_message(ctx))
			return (struct parse_result){PARSE_MORE, 0, total};
		/* a frame we cannot hold cannot be inflated: the packet stream is lost */
		parse_count(ctx, MY_COMPRESSED_LOST);
		parse_give_up(ctx);
		return (struct parse_result){PARSE_OK, len, 0};
	}
	/* frames have their own sequence, restarting with each command like packets */
	if (st->cseq_known && p[3] != st->cseq_next && !(dir == DIR_REQUEST && p[3] == 0))
		parse_count(ctx, MY_SEQ_MISMATCH);
	st->cseq_known = true;
	st->cseq_next = (uint8_t)(p[3] + 1);
	if (ulen == 0) { /* sent as is (short payloads) */
		my_inner(ctx, st, dir, p + MY_COMPRESSED_HEADER, clen, total);
		return (struct parse_result){PARSE_OK, total, 0};
	}
	if (!my_zs_ready) {
		if (inflateInit(&my_zs) != Z_OK) {
			parse_count(ctx, MY_COMPRESSED_LOST);
			parse_give_up(ctx);
			return (struct parse_result){PARSE_OK, total, 0};
		}
		my_zs_ready = true;
	} else {
		inflateReset(&my_zs);
	}
	my_zs.next_in = (uint8_t *)(uintptr_t)(p + MY_COMPRESSED_HEADER);
	my_zs.avail_in = clen;
	frame_bytes = total;
	while (rc == Z_OK && produced < ulen) {
		uint32_t n;

		my_zs.next_out = my_inflated;
		my_zs.avail_out = sizeof(my_inflated);
		rc = inflate(&my_zs, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END)
			break;
		n = (uint32_t)(sizeof(my_inflated) - my_zs.avail_out);
		if (n > ulen - produced)
			n = ulen - produced; /* never more than the frame announced */
		if (n == 0)
			break;
		my_inner(ctx, st, dir, my_inflated, n, frame_bytes);
		frame_bytes = 0;
		produced += n;
	}
	if (produced != ulen) {
		/* zstd (CLIENT_ZSTD_COMPRESSION_ALGORITHM, not linked in) or a corrupt frame */
		parse_count(ctx, MY_COMPRESSED_LOST);
		parse_give_up(ctx);
	}
	return (struct parse_result){PARSE_OK, total, 0};
}

/* ---- the packet loop ---- */

static struct parse_result my_on_data(struct parse_ctx *ctx, void *state, enum dir dir,
				      const uint8_t *p, uint32_t len)
{
	struct my_state *st = state;
	uint32_t max = parse_max_message(ctx), plen, total;

	if (st->skip[dir]) { /* the tail of an oversize packet */
		uint32_t n = len < st->skip[dir] ? len : st->skip[dir];

		st->skip[dir] -= n;
		return (struct parse_result){PARSE_OK, n, 0};
	}
	if (st->compressed)
		return my_compressed(ctx, st, dir, p, len);
	if (len < MY_HEADER)
		return (struct parse_result){PARSE_MORE, 0, MY_HEADER};
	plen = u24(p);
	total = MY_HEADER + plen;
	if (total <= len) {
		my_packet(ctx, st, dir, p[3], p + MY_HEADER, plen, plen, total);
		return (struct parse_result){PARSE_OK, total, 0};
	}
	if (total <= max)
		return (struct parse_result){PARSE_MORE, 0, total};
	/* longer than we buffer: parse its head (always max bytes, so that every split of the
	 * stream gives the same record), skip the rest as it streams by */
	if (len < max)
		return (struct parse_result){PARSE_MORE, 0, max};
	parse_count(ctx, MY_OVERSIZE_SKIPPED);
	my_packet(ctx, st, dir, p[3], p + MY_HEADER, max - MY_HEADER, plen, total);
	st->skip[dir] = total - max;
	return (struct parse_result){PARSE_OK, max, 0};
}

static void my_on_gap(struct parse_ctx *ctx, void *state, enum dir dir, uint64_t missing)
{
	struct my_state *st = state;

	(void)missing;
	/* packets carry no marker to find the next one by: after a hole, a length read from
	 * wherever the stream resumes would be a guess. Finish what is pending as incomplete
	 * and stop; the connection is still reported by its conn records. */
	st->skip[dir] = 0;
	st->cmd_count = 0;
	parse_give_up(ctx);
}

const struct parser mysql_parser = {
	.name = "mysql",
	.flags = PARSER_F_SQL,
	.ports = my_ports,
	.state_size = sizeof(struct my_state),
	.detect = my_detect,
	.on_data = my_on_data,
	.on_gap = my_on_gap,
	.on_close = NULL,
	.counter_defs = my_counter_defs,
	.counter_count = MY_COUNTERS,
};
