/*
 * Flows and TCP reassembly for the packet sources: decoded TCP segments and UDP datagrams
 * (packet_decode.h) in, connection events out — open, in-order data, exact gaps, close —
 * which the source turns into chunks (chunk.h), so a packet capture feeds the same
 * pipeline as the eBPF source.
 *
 * Connection identity: the 5-tuple, ordered so both directions give the same tuple,
 * hashed (xxh3) to the 64-bit conn_key. The client is the side that sent the SYN (the
 * receiver of a SYN-ACK when the SYN was missed). A stream joined mid-way has no SYN: the
 * server is then the side whose port is below 1024 when only one is, else the side with
 * the lower port (ephemeral ports are allocated high: Linux 32768-60999, IANA 49152+),
 * and the sender of the first packet when both ports are equal. UDP: the side on a
 * well-known datagram service port (DNS 53, mDNS 5353, LLMNR 5355, NTP 123, SNMP 161,
 * syslog 514, QUIC 443) is the server when only one side is; otherwise the sender of the
 * first datagram is the client. The generation starts at 1 and increments when the same
 * tuple starts a new connection (a new SYN after FIN/RST, or a SYN with another ISN).
 *
 * Reassembly (RFC 9293 3.4, 3.10): each direction delivers bytes in sequence order. A
 * segment ahead of the next expected byte is held in blocks of a preallocated pool; a
 * retransmission or overlap keeps the first copy (a differing copy is counted). A hole
 * is given up on and reported as a gap of its exact length when the receiver
 * acknowledged the missing bytes (they passed the tap and were lost in the capture, no
 * retransmission will come), when the direction holds more than its cap, when the pool
 * runs out (oldest holder first), when it stays open longer than the hole timeout (in
 * packet time), or when the flow ends (RST, idle, end of input). Nothing waits forever.
 *
 * Memory: the flow table, hash buckets and block pool are allocated once by
 * reasm_create(); packets never allocate. Owner: one reader thread; the events it
 * emits are views valid only during the callback.
 */
#ifndef WIREWATCH_TCP_REASSEMBLY_H
#define WIREWATCH_TCP_REASSEMBLY_H

#include <stdint.h>

#include "chunk.h"
#include "counters.h"
#include "packet_decode.h"

#define REASM_BLOCK_BYTES 2048 /* payload per out-of-order block */

enum reasm_counter {
	REASM_FLOWS,		  /* flows created (each generation counts) */
	REASM_FLOWS_EVICTED,	  /* flows evicted from a full table */
	REASM_FLOWS_IDLE,	  /* flows expired after the idle timeout */
	REASM_RESTARTS,		  /* same tuple, new connection: generation + 1 */
	REASM_SEGMENTS,		  /* TCP segments with payload or FIN */
	REASM_DATAGRAMS,	  /* UDP datagrams */
	REASM_OUT_OF_ORDER,	  /* segments (or parts) held until the hole before them fills */
	REASM_RETRANSMITS,	  /* segments wholly before the next expected byte */
	REASM_OVERLAP_BYTES,	  /* bytes received again (retransmitted or overlapping) */
	REASM_OVERLAP_DIFFERENT,  /* overlaps whose bytes differ from the first copy (kept) */
	REASM_GAPS,		  /* holes given up on */
	REASM_GAP_BYTES,	  /* bytes in those holes */
	REASM_GAP_ACKED,	  /* holes given up because the receiver acknowledged them */
	REASM_HOLE_TIMEOUTS,	  /* holes given up after the hole timeout */
	REASM_DIR_CAP,		  /* times a direction's out-of-order cap forced a gap */
	REASM_POOL_EMPTY,	  /* times the global block pool ran out */
	REASM_POOL_DROPPED_BYTES, /* bytes not held because the pool was empty (become gaps) */
	REASM_OUT_OF_WINDOW,	  /* segments too far ahead of the stream to be believable */
	REASM_BEFORE_START,	  /* segments before the first byte seen (mid-stream join) */
	REASM_AFTER_CLOSE,	  /* segments of a connection already closed (FIN/RST) */
	REASM_NO_FLOW,		  /* ACK/FIN/RST-only segments of connections never seen */
	REASM_COUNTERS,
};

extern const struct counter_def reasm_counter_defs[REASM_COUNTERS];

struct reasm_config {
	uint32_t max_flows;	  /* flows tracked at once; the least recently active goes */
	uint32_t pool_blocks;	  /* out-of-order blocks shared by all flows */
	uint32_t dir_max_blocks;  /* out-of-order blocks one direction may hold */
	uint32_t chunk_max;	  /* payload bytes per data event (the chunk capacity) */
	uint64_t hole_timeout_ns; /* packet time a hole may stay open */
	uint64_t idle_timeout_ns; /* packet time after which a silent flow is forgotten */
	uint64_t window_max;	  /* bytes ahead of the stream a segment may start */
};

/* The connection an event belongs to (endpoints: client = src, server = dst). */
struct reasm_flow_id {
	uint64_t conn_key;
	uint32_t generation;
	uint8_t flags; /* CHUNK_F_UDP */
	struct endpoint client;
	struct endpoint server;
};

struct reasm_event {
	const struct reasm_flow_id *flow;
	uint8_t kind;  /* enum chunk_kind */
	uint8_t dir;   /* enum dir */
	uint8_t flags; /* CHUNK_F_TRUNCATED when len < len_true */
	uint64_t ts_ns;
	uint64_t offset; /* bytes of this direction before this event */
	const uint8_t *data;
	uint32_t len;	   /* bytes in data (<= chunk_max) */
	uint32_t len_true; /* bytes this event covers in the stream */
};

typedef void (*reasm_emit_fn)(void *arg, const struct reasm_event *ev);

struct reasm;

/* Fills cfg with defaults sized for one monitoring host. */
void reasm_config_defaults(struct reasm_config *cfg);

/* Allocates everything once; counters ([REASM_COUNTERS]) are owned by the caller. */
int reasm_create(struct reasm **out, const struct reasm_config *cfg, uint64_t *counters,
		 reasm_emit_fn emit, void *arg);
void reasm_destroy(struct reasm *r);

/* One decoded TCP segment or UDP datagram, in capture order. Expires on packet time. */
void reasm_packet(struct reasm *r, const struct pkt *p);

/* Gives up holes and forgets flows older than their timeouts at now_ns (packet time). */
void reasm_expire(struct reasm *r, uint64_t now_ns);

/*
 * End of input: every open hole becomes a gap, connections whose FINs were both seen
 * close; other connections stay open (the runtime closes them at shutdown).
 */
void reasm_finish(struct reasm *r);

/* Flows currently tracked and blocks currently held (for progress lines and tests). */
uint32_t reasm_flows_active(const struct reasm *r);
uint32_t reasm_blocks_held(const struct reasm *r);

struct reader;

/*
 * Copies one stream event into a chunk of the reader's pool and hands it on (the packet
 * sources' common last step; reader thread, the event is a borrowed view). Returns 0, or
 * -ENOBUFS when the pool had no chunk (the caller counts the drop).
 */
int reasm_event_emit(struct reader *rd, const struct reasm_event *ev);

#endif
