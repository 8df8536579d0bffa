/* Core record fields and connection records (see record.h). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bpf/proc_table.h"
#include "dns_cache.h"
#include "engine.h"
#include "pii/pii.h"
#include "fingerprint.h"
#include "parser.h"
#include "query_record.h"
#include "record.h"

static const char *const role_names[] = {
	[ROLE_UNKNOWN] = "unknown",
	[ROLE_CLIENT] = "client",
	[ROLE_SERVER] = "server",
};

static const char *const close_reason_names[] = {
	[CONN_CLOSED] = "closed",
	[CONN_CLOSED_IDLE] = "idle",
	[CONN_CLOSED_EVICTED] = "evicted",
	[CONN_CLOSED_SHUTDOWN] = "shutdown",
};

size_t endpoint_format(const struct endpoint *ep, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	buf[0] = '\0';
	if (ep->family == AF_INET && len >= 22) {
		size_t at = 0;

		/* every record has two of these: plain digit formatting, no printf */
		for (int i = 0; i < 4; i++) {
			at += json_format_u64(buf + at, ep->addr[i]);
			buf[at++] = i < 3 ? '.' : ':';
		}
		at += json_format_u64(buf + at, ep->port);
		buf[at] = '\0';
		return at;
	} else if (ep->family == AF_INET6) {
		inet_ntop(AF_INET6, ep->addr, ip, sizeof(ip));
		n = snprintf(buf, len, "[%s]:%u", ip, ep->port);
	} else {
		return 0;
	}
	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

static void write_endpoint(struct json_writer *w, const char *key, const struct endpoint *ep)
{
	char buf[64];
	size_t n = endpoint_format(ep, buf, sizeof(buf));

	json_key(w, key);
	if (n)
		json_string(w, buf, n);
	else
		json_null(w);
}

/* What the process table knows of the traced process (eBPF source only). */
static void write_process(struct json_writer *w, uint32_t pid)
{
	const struct proc_info *p;

	if (!pid)
		return;
	proc_table_read_begin();
	p = proc_table_lookup(pid); /* valid until proc_table_read_end() */
	if (p) {
		json_key(w, "ppid");
		json_u64(w, p->ppid);
		json_key(w, "uid");
		json_u64(w, p->uid);
		json_key(w, "exe");
		if (p->exe[0])
			json_cstring(w, p->exe);
		else
			json_null(w);
		json_key(w, "container");
		if (p->container[0])
			json_cstring(w, p->container);
		else
			json_null(w);
	}
	proc_table_read_end();
}

/* The name a DNS answer gave for the server's address (stale: its TTL ran out). */
static void write_dst_name(struct json_writer *w, const struct endpoint *dst, uint64_t ts_ns)
{
	bool stale;
	const char *name = dns_cache_name_at(dst, ts_ns, &stale);

	if (!name)
		return;
	json_key(w, "dst_name");
	json_cstring(w, name);
	if (stale) {
		json_key(w, "dst_name_stale");
		json_bool(w, true);
	}
}

void record_write_header(struct json_writer *w, uint64_t ts_ns, const char *type, const char *proto,
			 const struct conn *c)
{
	char id[48];
	size_t n;

	json_object_begin(w);
	json_key(w, "ts");
	json_timestamp(w, ts_ns);
	json_key(w, "type");
	json_cstring(w, type);
	json_key(w, "proto");
	json_cstring(w, proto);
	json_key(w, "conn");
	json_object_begin(w);
	/* the id names the socket the way an operator finds it: tgid:fd:generation */
	n = json_format_u64(id, (uint32_t)(c->key >> 32));
	id[n++] = ':';
	n += json_format_u64(id + n, (uint32_t)c->key);
	id[n++] = ':';
	n += json_format_u64(id + n, c->generation);
	json_key(w, "id");
	json_string(w, id, n);
	json_key(w, "pid");
	if (c->pid)
		json_u64(w, c->pid);
	else
		json_null(w);
	json_key(w, "comm");
	if (c->comm[0])
		json_string(w, c->comm, strnlen(c->comm, sizeof(c->comm)));
	else
		json_null(w);
	write_process(w, c->pid);
	json_key(w, "role");
	json_cstring(w, role_names[c->role <= ROLE_SERVER ? c->role : ROLE_UNKNOWN]);
	if (c->flags & CHUNK_F_UNIX) {
		json_key(w, "transport");
		json_cstring(w, "unix");
	} else if (c->flags & CHUNK_F_UDP) {
		json_key(w, "transport");
		json_cstring(w, "udp");
	}
	write_endpoint(w, "src", &c->src);
	write_endpoint(w, "dst", &c->dst);
	write_dst_name(w, &c->dst, ts_ns);
	json_key(w, "tls");
	/* cleartext from a TLS library, or a connection that switched to TLS we cannot see */
	json_bool(w, (c->flags & CHUNK_F_TLS) != 0 || c->parse.encrypted);
	json_object_end(w);
}

struct conn_record {
	const struct conn *c;
	enum conn_event event;
	enum conn_close_reason reason;
	uint64_t ts_ns;
};

static void conn_record_encode(struct json_writer *w, const void *arg)
{
	const struct conn_record *r = arg;
	const struct conn *c = r->c;

	record_write_header(w, r->ts_ns, "conn", parse_engine_proto(c), c);
	json_key(w, "event");
	json_cstring(w, r->event == CONN_EVENT_OPEN ? "open" : "close");
	if (r->event == CONN_EVENT_OPEN) {
		json_key(w, "seen");
		json_cstring(w, c->midstream ? "midstream" : "start");
	} else {
		json_key(w, "reason");
		json_cstring(w, close_reason_names[r->reason]);
	}
	json_key(w, "bytes_req");
	json_u64(w, c->bytes[DIR_REQUEST]);
	json_key(w, "bytes_resp");
	json_u64(w, c->bytes[DIR_RESPONSE]);
	json_key(w, "chunks_req");
	json_u64(w, c->chunks[DIR_REQUEST]);
	json_key(w, "chunks_resp");
	json_u64(w, c->chunks[DIR_RESPONSE]);
	if (c->lost_bytes[DIR_REQUEST] || c->lost_bytes[DIR_RESPONSE]) {
		json_key(w, "lost_req");
		json_u64(w, c->lost_bytes[DIR_REQUEST]);
		json_key(w, "lost_resp");
		json_u64(w, c->lost_bytes[DIR_RESPONSE]);
	}
	if (r->event == CONN_EVENT_CLOSE) {
		json_key(w, "duration_us");
		json_u64(w, (c->last_ts_ns - c->first_ts_ns) / 1000);
	}
	json_object_end(w);
}

void conn_record_emit(struct emitter *e, const struct conn *c, enum conn_event event,
		      enum conn_close_reason reason, uint64_t ts_ns)
{
	struct conn_record r = {.c = c, .event = event, .reason = reason, .ts_ns = ts_ns};

	emitter_record(e, conn_record_encode, &r);
}

/* JSON names of the string fields, in enum record_str order (the order written). */
static const char *const str_names[RS_COUNT] = {
	[RS_DB] = "db",
	[RS_USER] = "user",
	[RS_APPLICATION] = "application_name",
	[RS_QUERY] = "query",
	[RS_STATEMENT] = "statement",
	[RS_COMMAND] = "command",
	[RS_METHOD] = "method",
	[RS_HOST] = "host",
	[RS_PATH] = "path",
	[RS_CONTENT_TYPE] = "content_type",
	[RS_USER_AGENT] = "user_agent",
	[RS_UPGRADE] = "upgrade",
	[RS_QTYPE] = "qtype",
	[RS_RCODE] = "rcode",
	[RS_DNS_FLAGS] = "dns_flags",
	[RS_SNI] = "sni",
	[RS_ALPN] = "alpn",
	[RS_TLS_VERSION] = "tls_version",
	[RS_TLS_CIPHER] = "tls_cipher",
	[RS_JA4] = "ja4",
	[RS_CERT_SUBJECT] = "cert_subject",
	[RS_AUTH] = "auth",
};

static const char *const list_names[RL_COUNT] = {
	[RL_PARAMS] = "params",
	[RL_COLUMNS] = "columns",
	[RL_ANSWERS] = "answers",
};

static const char *const status_names[] = {
	[RECORD_OK] = "ok",
	[RECORD_ERROR] = "error",
	[RECORD_INCOMPLETE] = "incomplete",
};

static const char *const where_names[] = {
	[VALUE_QUERY] = "query",   [VALUE_PARAM] = "param", [VALUE_RESULT] = "result",
	[VALUE_HEADER] = "header", [VALUE_BODY] = "body",   [VALUE_KEY] = "value",
};

struct query_emit {
	const struct conn *c;
	const struct parser *parser;
	const struct query_record *rec;
	enum redact_mode redact;
};

#define MASKED_FIELD_MAX (RECORD_ARENA_BYTES + 1024)

/*
 * Writes a field with every PII value the record found in it replaced by its masked form
 * (redact: pii). The values come from the record's mask list, so a value found in a
 * parameter is also masked where the query text repeats it.
 */
static void write_masked(struct json_writer *w, const struct query_emit *q, const char *s,
			 size_t len)
{
	const struct query_record *rec = q->rec;
	char out[MASKED_FIELD_MAX];
	size_t o = 0;

	if (q->redact != REDACT_PII || rec->nmasks == 0) {
		json_string(w, s, len);
		return;
	}
	for (size_t i = 0; i < len;) {
		const struct record_mask *hit = NULL;

		for (uint8_t m = 0; m < rec->nmasks; m++) {
			const struct record_mask *k = &rec->masks[m];

			if (k->len && k->len <= len - i && rec->arena[k->off] == s[i] &&
			    memcmp(rec->arena + k->off, s + i, k->len) == 0) {
				hit = k;
				break;
			}
		}
		if (hit) {
			if (sizeof(out) - o < 64)
				break;
			o += pii_mask(hit->type, (const uint8_t *)rec->arena + hit->off, hit->len,
				      out + o, sizeof(out) - o);
			i += hit->len;
		} else {
			if (o == sizeof(out))
				break;
			out[o++] = s[i++];
		}
	}
	json_string(w, out, o);
}

static void write_pii(struct json_writer *w, const struct query_record *rec)
{
	json_key(w, "pii");
	json_array_begin(w);
	for (uint8_t i = 0; i < rec->npii; i++) {
		const struct record_pii *p = &rec->pii[i];

		json_object_begin(w);
		json_key(w, "type");
		json_cstring(w, pii_type_name(p->type));
		json_key(w, "where");
		json_cstring(w, where_names[p->where]);
		json_key(w, "column");
		if (p->column_len)
			json_string(w, rec->arena + p->column_off, p->column_len);
		else
			json_null(w);
		json_key(w, "count");
		json_u64(w, p->count);
		json_key(w, "confidence");
		json_double(w, p->confidence, 2);
		json_key(w, "sample");
		json_string(w, rec->arena + p->sample_off, p->sample_len);
		json_object_end(w);
	}
	json_array_end(w);
}

static bool rec_has_str(const struct query_record *rec, enum record_str f)
{
	return (rec->str_set & (1u << f)) != 0;
}

static void write_str_field(struct json_writer *w, const struct query_emit *q, enum record_str f)
{
	const struct query_record *rec = q->rec;

	json_key(w, str_names[f]);
	write_masked(w, q, rec->arena + rec->str_off[f], rec->str_len[f]);
}

/* A list field; `hide` writes "?" for each item (redact: literals, or unmaskable PII). */
static void write_list(struct json_writer *w, const struct query_emit *q, enum record_list l,
		       bool hide)
{
	const struct query_record *rec = q->rec;
	uint16_t off = rec->list_first[l];

	json_key(w, list_names[l]);
	json_array_begin(w);
	for (uint16_t i = 0; i < rec->list_count[l]; i++) {
		uint16_t hdr[2];

		memcpy(hdr, rec->arena + off, sizeof(hdr));
		if (hide)
			json_cstring(w, "?");
		else
			write_masked(w, q, rec->arena + off + sizeof(hdr), hdr[0]);
		off = hdr[1];
	}
	json_array_end(w);
}

static void query_record_encode(struct json_writer *w, const void *arg)
{
	const struct query_emit *q = arg;
	const struct query_record *rec = q->rec;
	bool sql = (q->parser->flags & PARSER_F_SQL) != 0;
	/* a PII value that could not be kept for masking: hide literals rather than leak it */
	bool literals =
		q->redact == REDACT_LITERALS || (q->redact == REDACT_PII && rec->unmaskable);
	const char *fp = "";
	size_t fp_len = 0;
	uint64_t fp_hash = 0;

	record_write_header(w, rec->ts_ns, "query", q->parser->name, q->c);
	if (sql && rec_has_str(rec, RS_QUERY))
		fp = sql_fingerprint_cached(rec->arena + rec->str_off[RS_QUERY],
					    rec->str_len[RS_QUERY], &fp_len, &fp_hash);
	for (int f = 0; f < RS_ERROR_CODE; f++) {
		if (!rec_has_str(rec, f))
			continue;
		if (f == RS_QUERY && sql && literals) {
			/* redact: literals: the statement's shape is all that leaves the host */
			json_key(w, "query");
			json_string(w, fp, fp_len);
		} else if (literals && rec->unmaskable && f != RS_COMMAND && f != RS_DB &&
			   f != RS_USER && f != RS_METHOD && f != RS_HOST) {
			json_key(w, str_names[f]);
			json_cstring(w, "[redacted]");
		} else {
			write_str_field(w, q, f);
		}
		if (f == RS_QUERY && rec->list_count[RL_PARAMS])
			write_list(w, q, RL_PARAMS, literals);
		if (f == RS_QUERY && sql) {
			char hex[17];
			uint64_t h = fp_hash;

			for (int i = 15; i >= 0; i--, h >>= 4)
				hex[i] = "0123456789abcdef"[h & 15];
			json_key(w, "fingerprint");
			json_string(w, fp, fp_len);
			json_key(w, "fingerprint_hash");
			json_string(w, hex, 16);
		}
		if (f == RS_COMMAND && (rec->int_set & (1u << RI_ROWS))) {
			json_key(w, "rows");
			json_i64(w, rec->ints[RI_ROWS]);
		}
	}
	if (!rec_has_str(rec, RS_COMMAND) && (rec->int_set & (1u << RI_ROWS))) {
		json_key(w, "rows");
		json_i64(w, rec->ints[RI_ROWS]);
	}
	if (!rec_has_str(rec, RS_QUERY) && rec->list_count[RL_PARAMS])
		write_list(w, q, RL_PARAMS, literals);
	if (rec->list_count[RL_COLUMNS])
		write_list(w, q, RL_COLUMNS, false);
	if (rec->list_count[RL_ANSWERS])
		write_list(w, q, RL_ANSWERS, false);
	if (rec->int_set & (1u << RI_STATUS_CODE)) {
		json_key(w, "status_code");
		json_i64(w, rec->ints[RI_STATUS_CODE]);
	}
	json_key(w, "status");
	json_cstring(w, status_names[rec->status]);
	if (rec_has_str(rec, RS_ERROR_CODE) || rec_has_str(rec, RS_ERROR_MESSAGE)) {
		json_key(w, "error");
		json_object_begin(w);
		if (rec_has_str(rec, RS_ERROR_CODE)) {
			json_key(w, "code");
			json_string(w, rec->arena + rec->str_off[RS_ERROR_CODE],
				    rec->str_len[RS_ERROR_CODE]);
		}
		if (rec_has_str(rec, RS_ERROR_SEVERITY)) {
			json_key(w, "severity");
			json_string(w, rec->arena + rec->str_off[RS_ERROR_SEVERITY],
				    rec->str_len[RS_ERROR_SEVERITY]);
		}
		if (rec_has_str(rec, RS_ERROR_MESSAGE)) {
			json_key(w, "message");
			json_string(w, rec->arena + rec->str_off[RS_ERROR_MESSAGE],
				    rec->str_len[RS_ERROR_MESSAGE]);
		}
		json_object_end(w);
	}
	json_key(w, "latency_us");
	json_u64(w, (rec->end_ns - rec->ts_ns) / 1000);
	json_key(w, "bytes_req");
	json_u64(w, rec->bytes[DIR_REQUEST]);
	json_key(w, "bytes_resp");
	json_u64(w, rec->bytes[DIR_RESPONSE]);
	if (rec->truncated) {
		json_key(w, "truncated");
		json_bool(w, true);
	}
	if (rec->npii)
		write_pii(w, rec);
	json_object_end(w);
}

void query_record_emit(struct emitter *e, const struct conn *c, const struct parser *parser,
		       const struct query_record *rec, enum redact_mode redact)
{
	struct query_emit q = {.c = c, .parser = parser, .rec = rec, .redact = redact};

	emitter_record(e, query_record_encode, &q);
}
