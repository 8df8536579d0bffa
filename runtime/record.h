/*
 * Record encoding shared by every record type: the core fields of DESIGN section 3
 * (ts, type, proto, conn{...}) and the `conn` open/close records the runtime writes
 * for every connection even when no parser claims it.
 */
#ifndef WIREWATCH_RECORD_H
#define WIREWATCH_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "conn_table.h"
#include "emit.h"
#include "json.h"

enum conn_event {
	CONN_EVENT_OPEN,
	CONN_EVENT_CLOSE,
};

/* Why a close record was written. */
enum conn_close_reason {
	CONN_CLOSED,	      /* the connection was closed (close, FIN/RST) */
	CONN_CLOSED_IDLE,     /* evicted after conn_idle_s without activity */
	CONN_CLOSED_EVICTED,  /* evicted because the shard's table was full */
	CONN_CLOSED_SHUTDOWN, /* still open when wirewatch stopped */
};

/* "ip:port", "[ip6]:port"; "" for unknown and unix endpoints. Returns the length. */
size_t endpoint_format(const struct endpoint *ep, char *buf, size_t len);

/* Writes "ts", "type", "proto" and the "conn" object as the first members of a record. */
void record_write_header(struct json_writer *w, uint64_t ts_ns, const char *type, const char *proto,
			 const struct conn *c);

struct parser;
struct query_record;

/* Writes a finished query record: fingerprint, redaction, then one NDJSON line. */
void query_record_emit(struct emitter *e, const struct conn *c, const struct parser *parser,
		       const struct query_record *rec, enum redact_mode redact);

void conn_record_emit(struct emitter *e, const struct conn *c, enum conn_event event,
		      enum conn_close_reason reason, uint64_t ts_ns);

#endif
