/* Core record fields and connection records (see record.h). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

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

void record_write_header(struct json_writer *w, uint64_t ts_ns, const char *type,
			 const char *proto, const struct conn *c)
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
	json_key(w, "tls");
	json_bool(w, (c->flags & CHUNK_F_TLS) != 0);
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

	record_write_header(w, r->ts_ns, "conn", "unknown", c);
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
