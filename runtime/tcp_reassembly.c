/*
 * Flow table and TCP reassembly (see tcp_reassembly.h for the rules). Three fixed
 * structures, all allocated by reasm_create():
 *   - the flow table: an array of flows, chained hash buckets by conn_key, a free list,
 *     and an LRU list (oldest first) used for idle expiry and for eviction when full;
 *   - the block pool: fixed-size blocks holding out-of-order bytes, each direction
 *     keeps its blocks in a list sorted by stream offset, never overlapping;
 *   - the holders list: the directions that hold blocks, oldest hole first, for the
 *     hole timeout and for reclaiming blocks when the pool runs out.
 * Stream offsets are 64-bit and start at 0 with the first byte after the SYN (or the
 * first byte seen); 32-bit sequence numbers are mapped to them relative to the next
 * expected byte, so wrap-around at 2^32 needs no special case (RFC 9293 3.4: sequence
 * arithmetic is modulo 2^32, and no segment is ever more than 2^31 away).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <xxhash.h>

#include "source.h"
#include "tcp_reassembly.h"

#define NIL		UINT32_MAX
#define EXPIRE_EVERY_NS 100000000ull /* timeouts are checked every 100 ms of packet time */

const struct counter_def reasm_counter_defs[REASM_COUNTERS] = {
	[REASM_FLOWS] = {"pcap_flows_total", "Flows (TCP connections, UDP tuples) created"},
	[REASM_FLOWS_EVICTED] = {"pcap_flows_evicted_total",
				 "Flows evicted because the flow table was full"},
	[REASM_FLOWS_IDLE] = {"pcap_flows_idle_total", "Flows forgotten after the idle timeout"},
	[REASM_RESTARTS] = {"pcap_flow_restarts_total",
			    "Connections that reused a tuple (new generation)"},
	[REASM_SEGMENTS] = {"pcap_tcp_segments_total", "TCP segments with payload or FIN"},
	[REASM_DATAGRAMS] = {"pcap_udp_datagrams_total", "UDP datagrams"},
	[REASM_OUT_OF_ORDER] = {"pcap_tcp_out_of_order_total",
				"TCP segments held until the hole before them filled"},
	[REASM_RETRANSMITS] = {"pcap_tcp_retransmits_total",
			       "TCP segments wholly before the next expected byte (ignored)"},
	[REASM_OVERLAP_BYTES] = {"pcap_tcp_overlap_bytes_total",
				 "TCP bytes received more than once (first copy kept)"},
	[REASM_OVERLAP_DIFFERENT] = {"pcap_tcp_overlap_different_total",
				     "TCP overlaps whose bytes differ from the first copy"},
	[REASM_GAPS] = {"pcap_tcp_gaps_total", "Holes in TCP streams given up on (gap events)"},
	[REASM_GAP_BYTES] = {"pcap_tcp_gap_bytes_total", "Bytes missing in those holes"},
	[REASM_GAP_ACKED] = {"pcap_tcp_gap_acked_total",
			     "Holes given up because the receiver acknowledged the bytes"},
	[REASM_HOLE_TIMEOUTS] = {"pcap_tcp_hole_timeouts_total",
				 "Holes given up after the hole timeout"},
	[REASM_DIR_CAP] = {"pcap_tcp_dir_cap_total",
			   "Times a direction's out-of-order cap forced a gap"},
	[REASM_POOL_EMPTY] = {"pcap_tcp_pool_empty_total",
			      "Times the out-of-order block pool ran out"},
	[REASM_POOL_DROPPED_BYTES] = {"pcap_tcp_pool_dropped_bytes_total",
				      "Bytes not held because the block pool was empty"},
	[REASM_OUT_OF_WINDOW] = {"pcap_tcp_out_of_window_total",
				 "TCP segments too far ahead of their stream (ignored)"},
	[REASM_BEFORE_START] = {"pcap_tcp_before_start_total",
				"TCP segments before the first byte seen of a stream (ignored)"},
	[REASM_AFTER_CLOSE] = {"pcap_tcp_after_close_total",
			       "TCP segments of connections already closed (ignored)"},
	[REASM_NO_FLOW] = {"pcap_tcp_no_flow_total",
			   "ACK, FIN or RST segments of connections never seen (ignored)"},
};

enum flow_state { FLOW_FREE, FLOW_ACTIVE, FLOW_CLOSED };

struct block {
	uint64_t off;	   /* stream offset of data[0] */
	uint32_t len_true; /* stream bytes this block covers */
	uint32_t len;	   /* of which captured, in data[0..len) (the rest cut by a snaplen) */
	uint32_t next;
	uint8_t data[REASM_BLOCK_BYTES];
};

struct flow_dir {
	uint64_t next_off; /* every byte before it was delivered (or reported as a gap) */
	uint64_t fin_off;  /* offset of the FIN when fin */
	uint64_t hold_since_ns;
	uint32_t base_seq; /* sequence number of stream offset 0 */
	uint32_t isn;
	uint32_t head; /* held blocks, sorted by off, all > next_off between packets */
	uint32_t nblocks;
	uint32_t hold_prev, hold_next; /* holders list, node = flow index * 2 + dir */
	bool have_base, syn, fin, holding;
};

struct flow {
	struct reasm_flow_id id;
	uint8_t state; /* enum flow_state */
	uint8_t proto;
	uint64_t last_ns;
	uint32_t hnext;
	uint32_t lru_prev, lru_next;
	struct flow_dir d[2];
};

struct reasm {
	struct reasm_config cfg;
	uint64_t *counters;
	reasm_emit_fn emit;
	void *arg;
	struct flow *flows;
	uint32_t *buckets;
	uint32_t bucket_mask;
	uint32_t free_flows; /* free list through hnext */
	uint32_t nactive;
	uint32_t lru_head, lru_tail;
	struct block *blocks;
	uint32_t free_blocks; /* free list through next */
	uint32_t nheld;
	uint32_t hold_head, hold_tail;
	uint64_t next_expire_ns;
};

static inline void count(struct reasm *r, enum reasm_counter c, uint64_t n)
{
	counter_add(&r->counters[c], n);
}

void reasm_config_defaults(struct reasm_config *cfg)
{
	*cfg = (struct reasm_config){
		.max_flows = 65536,
		.pool_blocks = 16384,  /* 32 MiB of out-of-order bytes for the whole host */
		.dir_max_blocks = 256, /* 512 KiB per direction: a few windows of a fast LAN flow */
		.chunk_max = 16384,
		.hole_timeout_ns = 10ull * 1000000000ull, /* far beyond any sane RTO */
		.idle_timeout_ns = 300ull * 1000000000ull,
		.window_max = 1ull << 30, /* RFC 7323 2.3: the largest window is 2^30 */
	};
}

int reasm_create(struct reasm **out, const struct reasm_config *cfg, uint64_t *counters,
		 reasm_emit_fn emit, void *arg)
{
	struct reasm *r;
	uint32_t nb = 1;

	if (cfg->max_flows == 0 || cfg->max_flows > (1u << 24) || cfg->chunk_max == 0 ||
	    cfg->pool_blocks >= NIL || cfg->dir_max_blocks == 0)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	while (nb < cfg->max_flows * 2)
		nb <<= 1;
	r->cfg = *cfg;
	r->counters = counters;
	r->emit = emit;
	r->arg = arg;
	r->flows = calloc(cfg->max_flows, sizeof(*r->flows));
	r->buckets = malloc((size_t)nb * sizeof(*r->buckets));
	r->blocks = cfg->pool_blocks ? malloc((size_t)cfg->pool_blocks * sizeof(*r->blocks)) : NULL;
	if (!r->flows || !r->buckets || (cfg->pool_blocks && !r->blocks)) {
		reasm_destroy(r);
		return -ENOMEM;
	}
	r->bucket_mask = nb - 1;
	memset(r->buckets, 0xff, (size_t)nb * sizeof(*r->buckets));
	for (uint32_t i = 0; i < cfg->max_flows; i++)
		r->flows[i].hnext = i + 1 < cfg->max_flows ? i + 1 : NIL;
	r->free_flows = 0;
	for (uint32_t i = 0; i < cfg->pool_blocks; i++)
		r->blocks[i].next = i + 1 < cfg->pool_blocks ? i + 1 : NIL;
	r->free_blocks = cfg->pool_blocks ? 0 : NIL;
	r->lru_head = r->lru_tail = NIL;
	r->hold_head = r->hold_tail = NIL;
	*out = r;
	return 0;
}

void reasm_destroy(struct reasm *r)
{
	if (!r)
		return;
	free(r->flows);
	free(r->buckets);
	free(r->blocks);
	free(r);
}

uint32_t reasm_flows_active(const struct reasm *r)
{
	return r->nactive;
}

uint32_t reasm_blocks_held(const struct reasm *r)
{
	return r->nheld;
}

/* ---- events ---- */

static void emit_event(struct reasm *r, struct flow *f, enum chunk_kind kind, enum dir dir,
		       uint64_t off, const uint8_t *data, uint32_t len, uint32_t len_true,
		       uint64_t ts_ns)
{
	struct reasm_event ev = {.flow = &f->id,
				 .kind = (uint8_t)kind,
				 .dir = (uint8_t)dir,
				 .ts_ns = ts_ns,
				 .offset = off,
				 .data = data,
				 .len = len,
				 .len_true = len_true};

	r->emit(r->arg, &ev);
}

/*
 * In-order bytes [off, off + len_true), of which the first len were captured: cut into
 * events of at most chunk_max captured bytes; an uncaptured tail rides on the last one
 * (CHUNK_F_TRUNCATED), as the eBPF source reports a capture budget.
 */
static void deliver(struct reasm *r, struct flow *f, enum dir dir, uint64_t off,
		    const uint8_t *data, uint32_t len, uint64_t len_true, uint64_t ts_ns)
{
	uint32_t max = r->cfg.chunk_max;

	while (len_true) {
		struct reasm_event ev = {.flow = &f->id,
					 .kind = CHUNK_DATA,
					 .dir = (uint8_t)dir,
					 .ts_ns = ts_ns,
					 .offset = off,
					 .data = data};
		uint32_t n = len < max ? len : max;
		uint64_t covers = n;

		if (n == len) /* the last captured piece takes the uncaptured rest */
			covers = len_true < UINT32_MAX ? len_true : UINT32_MAX;
		ev.len = n;
		ev.len_true = (uint32_t)covers;
		if (ev.len < ev.len_true)
			ev.flags = CHUNK_F_TRUNCATED;
		r->emit(r->arg, &ev);
		off += covers;
		data += n;
		len -= n;
		len_true -= covers;
	}
}

static void emit_gap(struct reasm *r, struct flow *f, enum dir dir, uint64_t n, uint64_t ts_ns)
{
	struct flow_dir *d = &f->d[dir];

	count(r, REASM_GAPS, 1);
	count(r, REASM_GAP_BYTES, n);
	while (n) {
		uint32_t piece = n < UINT32_MAX ? (uint32_t)n : UINT32_MAX;

		emit_event(r, f, CHUNK_GAP, dir, d->next_off, NULL, 0, piece, ts_ns);
		d->next_off += piece;
		n -= piece;
	}
}

/* ---- lists ---- */

static inline uint32_t flow_index(const struct reasm *r, const struct flow *f)
{
	return (uint32_t)(f - r->flows);
}

static struct flow_dir *holder_dir(struct reasm *r, uint32_t node)
{
	return &r->flows[node / 2].d[node % 2];
}

static void holders_remove(struct reasm *r, uint32_t node)
{
	struct flow_dir *d = holder_dir(r, node);

	if (!d->holding)
		return;
	if (d->hold_prev != NIL)
		holder_dir(r, d->hold_prev)->hold_next = d->hold_next;
	else
		r->hold_head = d->hold_next;
	if (d->hold_next != NIL)
		holder_dir(r, d->hold_next)->hold_prev = d->hold_prev;
	else
		r->hold_tail = d->hold_prev;
	d->holding = false;
}

/* (Re)starts the hole clock of a direction: it goes to the tail (newest) of the holders. */
static void holders_push(struct reasm *r, uint32_t node, uint64_t ts_ns)
{
	struct flow_dir *d = holder_dir(r, node);

	holders_remove(r, node);
	d->hold_since_ns = ts_ns;
	d->hold_prev = r->hold_tail;
	d->hold_next = NIL;
	if (r->hold_tail != NIL)
		holder_dir(r, r->hold_tail)->hold_next = node;
	else
		r->hold_head = node;
	r->hold_tail = node;
	d->holding = true;
}

static void lru_remove(struct reasm *r, struct flow *f)
{
	if (f->lru_prev != NIL)
		r->flows[f->lru_prev].lru_next = f->lru_next;
	else
		r->lru_head = f->lru_next;
	if (f->lru_next != NIL)
		r->flows[f->lru_next].lru_prev = f->lru_prev;
	else
		r->lru_tail = f->lru_prev;
}

static void lru_push(struct reasm *r, struct flow *f)
{
	uint32_t i = flow_index(r, f);

	f->lru_prev = r->lru_tail;
	f->lru_next = NIL;
	if (r->lru_tail != NIL)
		r->flows[r->lru_tail].lru_next = i;
	else
		r->lru_head = i;
	r->lru_tail = i;
}

static void flow_touch(struct reasm *r, struct flow *f, uint64_t ts_ns)
{
	if (ts_ns > f->last_ns)
		f->last_ns = ts_ns;
	if (r->lru_tail != flow_index(r, f)) {
		lru_remove(r, f);
		lru_push(r, f);
	}
}

static void block_free(struct reasm *r, uint32_t b)
{
	r->blocks[b].next = r->free_blocks;
	r->free_blocks = b;
	r->nheld--;
}

/* ---- delivery of held bytes ---- */

/* Delivers the held blocks that now continue the stream, and restarts the hole clock. */
static void dir_drain(struct reasm *r, struct flow *f, enum dir dir, uint64_t ts_ns)
{
	struct flow_dir *d = &f->d[dir];
	uint32_t node = flow_index(r, f) * 2 + dir;
	bool progress = false;

	while (d->head != NIL && r->blocks[d->head].off <= d->next_off) {
		struct block *b = &r->blocks[d->head];
		uint32_t next = b->next;
		uint64_t end = b->off + b->len_true;

		if (end > d->next_off) { /* blocks never overlap: this is the usual whole block */
			uint64_t skip = d->next_off - b->off;
			uint32_t cap = b->len > skip ? b->len - (uint32_t)skip : 0;

			deliver(r, f, dir, d->next_off, b->data + (b->len > skip ? skip : b->len),
				cap, end - d->next_off, ts_ns);
			d->next_off = end;
		}
		block_free(r, d->head);
		d->head = next;
		d->nblocks--;
		progress = true;
	}
	if (d->head == NIL)
		holders_remove(r, node);
	else if (progress)
		holders_push(r, node, ts_ns);
}

/* Gives up the bytes before off: a gap up to it, then whatever held bytes follow. */
static void dir_skip_to(struct reasm *r, struct flow *f, enum dir dir, uint64_t off, uint64_t ts_ns)
{
	struct flow_dir *d = &f->d[dir];

	if (off > d->next_off)
		emit_gap(r, f, dir, off - d->next_off, ts_ns);
	dir_drain(r, f, dir, ts_ns);
}

/* The direction ends (RST, idle, end of input): every hole, and bytes before a FIN, lost. */
static void dir_flush(struct reasm *r, struct flow *f, enum dir dir, uint64_t ts_ns)
{
	struct flow_dir *d = &f->d[dir];

	while (d->head != NIL)
		dir_skip_to(r, f, dir, r->blocks[d->head].off, ts_ns);
	if (d->fin && d->fin_off > d->next_off)
		dir_skip_to(r, f, dir, d->fin_off, ts_ns);
}

/* ---- flows ---- */

struct tuple {
	uint8_t family, proto;
	uint16_t lo_port, hi_port;
	uint8_t lo_addr[16], hi_addr[16];
};

static void tuple_make(struct tuple *t, const struct pkt *p)
{
	int c = memcmp(p->saddr, p->daddr, 16);
	bool src_lo = c < 0 || (c == 0 && p->sport <= p->dport);

	memset(t, 0, sizeof(*t));
	t->family = (uint8_t)p->family;
	t->proto = p->proto;
	t->lo_port = src_lo ? p->sport : p->dport;
	t->hi_port = src_lo ? p->dport : p->sport;
	memcpy(t->lo_addr, src_lo ? p->saddr : p->daddr, 16);
	memcpy(t->hi_addr, src_lo ? p->daddr : p->saddr, 16);
}

static uint64_t tuple_hash(const struct tuple *t)
{
	return XXH3_64bits(t, sizeof(*t));
}

static bool endpoint_is(const struct endpoint *e, const uint8_t *addr, uint16_t port)
{
	return e->port == port && memcmp(e->addr, addr, 16) == 0;
}

/* Finds the flow of p; *from_client tells the direction. */
static struct flow *flow_lookup(struct reasm *r, const struct pkt *p, uint64_t key,
				bool *from_client)
{
	for (uint32_t i = r->buckets[key & r->bucket_mask]; i != NIL; i = r->flows[i].hnext) {
		struct flow *f = &r->flows[i];

		if (f->id.conn_key != key || f->proto != p->proto ||
		    f->id.client.family != p->family)
			continue;
		if (endpoint_is(&f->id.client, p->saddr, p->sport) &&
		    endpoint_is(&f->id.server, p->daddr, p->dport)) {
			*from_client = true;
			return f;
		}
		if (endpoint_is(&f->id.server, p->saddr, p->sport) &&
		    endpoint_is(&f->id.client, p->daddr, p->dport)) {
			*from_client = false;
			return f;
		}
	}
	return NULL;
}

static void flow_release(struct reasm *r, struct flow *f)
{
	uint32_t i = flow_index(r, f);
	uint32_t *pp = &r->buckets[f->id.conn_key & r->bucket_mask];

	for (int dir = 0; dir < 2; dir++) {
		while (f->d[dir].head != NIL) {
			uint32_t next = r->blocks[f->d[dir].head].next;

			block_free(r, f->d[dir].head);
			f->d[dir].head = next;
		}
		holders_remove(r, i * 2 + (uint32_t)dir);
	}
	while (*pp != i)
		pp = &r->flows[*pp].hnext;
	*pp = f->hnext;
	lru_remove(r, f);
	f->state = FLOW_FREE;
	f->hnext = r->free_flows;
	r->free_flows = i;
	r->nactive--;
}

static void flow_close(struct reasm *r, struct flow *f, uint64_t ts_ns)
{
	emit_event(r, f, CHUNK_CLOSE, DIR_REQUEST, 0, NULL, 0, 0, ts_ns);
	f->state = FLOW_CLOSED;
}

/* A flow leaves for good (evicted, idle): its holes become gaps and the runtime closes it. */
static void flow_end(struct reasm *r, struct flow *f, uint64_t ts_ns)
{
	if (f->state == FLOW_ACTIVE) {
		dir_flush(r, f, DIR_REQUEST, ts_ns);
		dir_flush(r, f, DIR_RESPONSE, ts_ns);
		flow_close(r, f, ts_ns);
	}
	flow_release(r, f);
}

/* RFC 9293 3.6: the connection is over when both FINs were delivered in order. */
static void flow_check_close(struct reasm *r, struct flow *f, uint64_t ts_ns)
{
	const struct flow_dir *q = &f->d[DIR_REQUEST], *s = &f->d[DIR_RESPONSE];

	if (f->state == FLOW_ACTIVE && q->fin && s->fin && q->next_off >= q->fin_off &&
	    s->next_off >= s->fin_off)
		flow_close(r, f, ts_ns);
}

static bool udp_service_port(uint16_t port)
{
	return port == 53 || port == 5353 || port == 5355 || port == 123 || port == 161 ||
	       port == 514 || port == 443;
}

/* Which side is the client when the flow is first seen (rules in tcp_reassembly.h). */
static bool sender_is_client(const struct pkt *p)
{
	uint8_t fl = p->tcp_flags;

	if (p->proto == IPPROTO_UDP) {
		if (udp_service_port(p->sport) != udp_service_port(p->dport))
			return udp_service_port(p->dport);
		return true;
	}
	if (fl & PKT_TCP_SYN)
		return !(fl & PKT_TCP_ACK);
	if ((p->sport < 1024) != (p->dport < 1024))
		return p->dport < 1024;
	if (p->sport != p->dport)
		return p->dport < p->sport;
	return true;
}

static void flow_init(struct flow *f, const struct pkt *p, uint64_t key, bool client_sends,
		      uint32_t generation)
{
	const uint8_t *ca = client_sends ? p->saddr : p->daddr;
	const uint8_t *sa = client_sends ? p->daddr : p->saddr;
	uint32_t hnext = f->hnext, lp = f->lru_prev, ln = f->lru_next;

	memset(f, 0, sizeof(*f));
	f->hnext = hnext;
	f->lru_prev = lp;
	f->lru_next = ln;
	f->id.conn_key = key;
	f->id.generation = generation;
	f->id.flags = p->proto == IPPROTO_UDP ? CHUNK_F_UDP : 0;
	f->id.client.family = p->family;
	f->id.client.port = client_sends ? p->sport : p->dport;
	memcpy(f->id.client.addr, ca, 16);
	f->id.server.family = p->family;
	f->id.server.port = client_sends ? p->dport : p->sport;
	memcpy(f->id.server.addr, sa, 16);
	f->proto = p->proto;
	f->state = FLOW_ACTIVE;
	f->last_ns = p->ts_ns;
	for (int i = 0; i < 2; i++)
		f->d[i].head = f->d[i].hold_prev = f->d[i].hold_next = NIL;
}

static struct flow *flow_create(struct reasm *r, const struct pkt *p, uint64_t key)
{
	struct flow *f;
	uint32_t i;

	if (r->free_flows == NIL) {
		count(r, REASM_FLOWS_EVICTED, 1);
		flow_end(r, &r->flows[r->lru_head], p->ts_ns);
	}
	i = r->free_flows;
	f = &r->flows[i];
	r->free_flows = f->hnext;
	f->hnext = r->buckets[key & r->bucket_mask];
	r->buckets[key & r->bucket_mask] = i;
	r->nactive++;
	lru_push(r, f);
	flow_init(f, p, key, sender_is_client(p), 1);
	count(r, REASM_FLOWS, 1);
	emit_event(r, f, CHUNK_OPEN, DIR_REQUEST, 0, NULL, 0, 0, p->ts_ns);
	return f;
}

/* The same tuple starts a new connection: the old one ends, the generation moves on. */
static void flow_restart(struct reasm *r, struct flow *f, const struct pkt *p)
{
	uint32_t i = flow_index(r, f), gen = f->id.generation + 1;

	if (f->state == FLOW_ACTIVE) {
		dir_flush(r, f, DIR_REQUEST, p->ts_ns);
		dir_flush(r, f, DIR_RESPONSE, p->ts_ns);
		flow_close(r, f, p->ts_ns);
	}
	for (uint32_t dir = 0; dir < 2; dir++) { /* nothing is held after the flushes */
		while (f->d[dir].head != NIL) {
			uint32_t next = r->blocks[f->d[dir].head].next;

			block_free(r, f->d[dir].head);
			f->d[dir].head = next;
		}
		holders_remove(r, i * 2 + dir);
	}
	flow_init(f, p, f->id.conn_key, sender_is_client(p), gen ? gen : 1);
	count(r, REASM_RESTARTS, 1);
	count(r, REASM_FLOWS, 1);
	emit_event(r, f, CHUNK_OPEN, DIR_REQUEST, 0, NULL, 0, 0, p->ts_ns);
}

/* ---- segments ---- */

/* Stream offset of seq relative to the next expected byte: modulo 2^32, within +-2^31. */
static inline int64_t seq_to_off(const struct flow_dir *d, uint32_t seq)
{
	uint32_t expect = d->base_seq + (uint32_t)d->next_off;

	return (int64_t)d->next_off + (int32_t)(seq - expect);
}

static uint32_t block_alloc(struct reasm *r)
{
	uint32_t b = r->free_blocks;

	if (b != NIL) {
		r->free_blocks = r->blocks[b].next;
		r->nheld++;
	}
	return b;
}

/*
 * Holds [off, end) of a segment (captured up to cend) after block prev (NIL: at the
 * head). Returns the last block linked, or NIL with *full set when the pool ran out.
 */
static uint32_t dir_hold(struct reasm *r, struct flow *f, enum dir dir, uint32_t prev, uint64_t off,
			 uint64_t end, uint64_t cend, const uint8_t *seg, uint64_t seg_off,
			 uint64_t ts_ns, bool *full)
{
	struct flow_dir *d = &f->d[dir];

	while (off < end) {
		uint32_t b = block_alloc(r);
		uint64_t piece_end = off + REASM_BLOCK_BYTES < end ? off + REASM_BLOCK_BYTES : end;
		struct block *blk;
		uint64_t cap;

		if (b == NIL) {
			count(r, REASM_POOL_EMPTY, 1);
			count(r, REASM_POOL_DROPPED_BYTES, end - off);
			*full = true;
			return NIL; /* what was not held becomes part of a hole: exact gap later */
		}
		if (cend <= piece_end) /* the uncaptured tail rides on the last captured block */
			piece_end = end;
		blk = &r->blocks[b];
		cap = cend > off ? (cend < piece_end ? cend : piece_end) - off : 0;
		blk->off = off;
		blk->len_true = (uint32_t)(piece_end - off);
		blk->len = (uint32_t)cap;
		memcpy(blk->data, seg + (off - seg_off), cap);
		if (prev == NIL) {
			blk->next = d->head;
			d->head = b;
		} else {
			blk->next = r->blocks[prev].next;
			r->blocks[prev].next = b;
		}
		d->nblocks++;
		prev = b;
		off = piece_end;
	}
	if (!d->holding)
		holders_push(r, flow_index(r, f) * 2 + dir, ts_ns);
	return prev;
}

/* Counts an overlap and whether the bytes both copies captured differ (first copy kept). */
static void overlap_check(struct reasm *r, const struct block *b, uint64_t from, uint64_t to,
			  uint64_t cend, const uint8_t *seg, uint64_t seg_off)
{
	uint64_t cmp_end = to;

	count(r, REASM_OVERLAP_BYTES, to - from);
	if (cmp_end > cend)
		cmp_end = cend;
	if (cmp_end > b->off + b->len)
		cmp_end = b->off + b->len;
	if (cmp_end > from &&
	    memcmp(b->data + (from - b->off), seg + (from - seg_off), cmp_end - from) != 0)
		count(r, REASM_OVERLAP_DIFFERENT, 1);
}

/*
 * One segment's bytes [off, off + len_true), len of them captured, into direction dir:
 * new bytes at the next expected offset are delivered at once (no copy into the pool),
 * new bytes further on are held, bytes already held or delivered are dropped.
 */
static void dir_segment(struct reasm *r, struct flow *f, enum dir dir, int64_t soff,
			const uint8_t *data, uint32_t len, uint32_t len_true, uint64_t ts_ns)
{
	struct flow_dir *d = &f->d[dir];
	uint64_t off, end, cend, seg_off;
	uint32_t prev = NIL, b;
	bool full = false;

	if (soff < 0) { /* before the first byte we know of: a mid-stream join saw it late */
		uint64_t skip = (uint64_t)-soff;

		if (skip >= len_true) {
			count(r, REASM_BEFORE_START, 1);
			return;
		}
		count(r, REASM_OVERLAP_BYTES, skip);
		data += skip < len ? skip : len;
		len -= skip < len ? (uint32_t)skip : len;
		len_true -= (uint32_t)skip;
		soff = 0;
	}
	seg_off = (uint64_t)soff;
	off = seg_off;
	end = seg_off + len_true;
	cend = seg_off + len;
	if (d->fin && end > d->fin_off) /* nothing follows a FIN (RFC 9293 3.10.7.4) */
		end = d->fin_off;
	if (end <= d->next_off) {
		if (len_true)
			count(r, REASM_RETRANSMITS, 1);
		count(r, REASM_OVERLAP_BYTES, len_true);
		return;
	}
	if (off > d->next_off && off - d->next_off > r->cfg.window_max) {
		count(r, REASM_OUT_OF_WINDOW, 1);
		return;
	}
	if (off < d->next_off) {
		count(r, REASM_OVERLAP_BYTES, d->next_off - off);
		off = d->next_off;
	}
	b = d->head;
	while (off < end) {
		uint64_t piece_end;

		while (b != NIL && r->blocks[b].off + r->blocks[b].len_true <= off) {
			prev = b;
			b = r->blocks[b].next;
		}
		if (b != NIL && r->blocks[b].off <= off) {
			uint64_t bend = r->blocks[b].off + r->blocks[b].len_true;
			uint64_t to = end < bend ? end : bend;

			overlap_check(r, &r->blocks[b], off, to, cend, data, seg_off);
			off = to;
			continue;
		}
		piece_end = b != NIL && r->blocks[b].off < end ? r->blocks[b].off : end;
		if (off == d->next_off) {
			uint32_t cap =
				cend > off ? (uint32_t)((cend < piece_end ? cend : piece_end) - off)
					   : 0;

			deliver(r, f, dir, off, data + (off - seg_off), cap, piece_end - off,
				ts_ns);
			d->next_off = piece_end;
		} else {
			if (prev == NIL || r->blocks[prev].off + r->blocks[prev].len_true <= off)
				count(r, REASM_OUT_OF_ORDER, 1);
			prev = dir_hold(r, f, dir, prev, off, piece_end, cend, data, seg_off, ts_ns,
					&full);
			if (full)
				break;
		}
		off = piece_end;
	}
	dir_drain(r, f, dir, ts_ns);
	/* caps: give up the oldest holes until the direction is back under its share */
	while (d->nblocks > r->cfg.dir_max_blocks) {
		count(r, REASM_DIR_CAP, 1);
		dir_skip_to(r, f, dir, r->blocks[d->head].off, ts_ns);
	}
	if (full && r->hold_head != NIL) {
		uint32_t node = r->hold_head;
		struct flow *victim = &r->flows[node / 2];

		/* the direction that has waited longest gives its blocks back */
		dir_flush(r, victim, (enum dir)(node % 2), ts_ns);
		flow_check_close(r, victim, ts_ns);
	}
}

/*
 * The peer acknowledged bytes of dir up to ack (RFC 9293 3.4): a hole below it was
 * received by the peer, so it passed the tap and only the capture lost it; no
 * retransmission will fill it. Only holes with held bytes after them are given up here
 * (a hole at the tail is closed by a FIN, the timeout or the end).
 */
static void dir_acked(struct reasm *r, struct flow *f, enum dir dir, uint32_t ack, uint64_t ts_ns)
{
	struct flow_dir *d = &f->d[dir];
	int64_t ack_off;
	uint64_t upto;

	if (!d->have_base || d->head == NIL)
		return;
	ack_off = seq_to_off(d, ack);
	if (d->fin && ack_off > (int64_t)d->fin_off)
		ack_off = (int64_t)d->fin_off; /* the FIN takes one sequence number */
	if (ack_off <= (int64_t)d->next_off || (uint64_t)ack_off - d->next_off > r->cfg.window_max)
		return;
	upto = (uint64_t)ack_off < r->blocks[d->head].off ? (uint64_t)ack_off
							  : r->blocks[d->head].off;
	count(r, REASM_GAP_ACKED, 1);
	dir_skip_to(r, f, dir, upto, ts_ns);
}

static void tcp_packet(struct reasm *r, const struct pkt *p)
{
	uint64_t key;
	struct tuple t;
	struct flow *f;
	struct flow_dir *d;
	bool from_client = true;
	uint8_t fl = p->tcp_flags;
	bool syn = fl & PKT_TCP_SYN, fin = fl & PKT_TCP_FIN;
	enum dir dir;
	uint32_t seq = p->seq;

	tuple_make(&t, p);
	key = tuple_hash(&t);
	f = flow_lookup(r, p, key, &from_client);
	if (f && syn && !(fl & PKT_TCP_ACK)) {
		/* a new SYN: a new connection on this tuple unless it repeats the SYN we saw */
		const struct flow_dir *cd = &f->d[from_client ? DIR_REQUEST : DIR_RESPONSE];

		if (f->state == FLOW_CLOSED || !from_client || !cd->syn || cd->isn != seq)
			flow_restart(r, f, p);
		from_client = true;
	} else if (f && f->state == FLOW_CLOSED) {
		if (p->payload_len_true || fin)
			count(r, REASM_AFTER_CLOSE, 1);
		return;
	}
	if (!f) {
		if (!syn && p->payload_len_true == 0) {
			count(r, REASM_NO_FLOW, 1);
			return;
		}
		f = flow_create(r, p, key);
		from_client = sender_is_client(p);
	}
	flow_touch(r, f, p->ts_ns);
	dir = from_client ? DIR_REQUEST : DIR_RESPONSE;
	d = &f->d[dir];
	if (syn) {
		if (!d->have_base) {
			d->base_seq = seq + 1;
			d->isn = seq;
			d->have_base = true;
			d->syn = true;
		}
		seq++; /* the SYN takes one sequence number, data starts after it */
	}
	if (fl & PKT_TCP_RST) {
		/* RFC 9293 3.10.7: the connection is gone; what was held is all there will be */
		dir_flush(r, f, DIR_REQUEST, p->ts_ns);
		dir_flush(r, f, DIR_RESPONSE, p->ts_ns);
		flow_close(r, f, p->ts_ns);
		return;
	}
	if (p->payload_len_true || fin) {
		int64_t off;

		if (!d->have_base) { /* mid-stream: this byte is offset 0 */
			d->base_seq = seq;
			d->have_base = true;
		}
		count(r, REASM_SEGMENTS, 1);
		off = seq_to_off(d, seq);
		if (fin && !d->fin && off + (int64_t)p->payload_len_true >= (int64_t)d->next_off &&
		    (uint64_t)(off + p->payload_len_true) - d->next_off <= r->cfg.window_max) {
			d->fin = true;
			d->fin_off = (uint64_t)off + p->payload_len_true;
		}
		if (p->payload_len_true)
			dir_segment(r, f, dir, off, p->payload, p->payload_len, p->payload_len_true,
				    p->ts_ns);
	}
	if ((fl & PKT_TCP_ACK) && f->state == FLOW_ACTIVE)
		dir_acked(r, f, dir == DIR_REQUEST ? DIR_RESPONSE : DIR_REQUEST, p->ack, p->ts_ns);
	flow_check_close(r, f, p->ts_ns);
}

static void udp_packet(struct reasm *r, const struct pkt *p)
{
	uint64_t key;
	struct tuple t;
	struct flow *f;
	bool from_client = true;
	enum dir dir;
	uint32_t len;

	count(r, REASM_DATAGRAMS, 1);
	tuple_make(&t, p);
	key = tuple_hash(&t);
	f = flow_lookup(r, p, key, &from_client);
	if (!f) {
		f = flow_create(r, p, key);
		from_client = sender_is_client(p);
	}
	flow_touch(r, f, p->ts_ns);
	dir = from_client ? DIR_REQUEST : DIR_RESPONSE;
	/* one datagram, one chunk: a datagram beyond the chunk size is cut, not split */
	len = p->payload_len < r->cfg.chunk_max ? p->payload_len : r->cfg.chunk_max;
	emit_event(r, f, CHUNK_DATA, dir, f->d[dir].next_off, p->payload, len, p->payload_len_true,
		   p->ts_ns);
	f->d[dir].next_off += p->payload_len_true;
}

void reasm_expire(struct reasm *r, uint64_t now_ns)
{
	while (r->hold_head != NIL) {
		uint32_t node = r->hold_head;
		struct flow *f = &r->flows[node / 2];
		struct flow_dir *d = &f->d[node % 2];

		if (d->hold_since_ns + r->cfg.hole_timeout_ns > now_ns)
			break;
		count(r, REASM_HOLE_TIMEOUTS, 1);
		while (d->head != NIL)
			dir_skip_to(r, f, (enum dir)(node % 2), r->blocks[d->head].off, now_ns);
		flow_check_close(r, f, now_ns);
	}
	while (r->lru_head != NIL) {
		struct flow *f = &r->flows[r->lru_head];

		if (f->last_ns + r->cfg.idle_timeout_ns > now_ns)
			break;
		if (f->state == FLOW_ACTIVE)
			count(r, REASM_FLOWS_IDLE, 1);
		flow_end(r, f, now_ns);
	}
	r->next_expire_ns = now_ns + EXPIRE_EVERY_NS;
}

void reasm_packet(struct reasm *r, const struct pkt *p)
{
	if (p->ts_ns >= r->next_expire_ns)
		reasm_expire(r, p->ts_ns);
	if (p->proto == IPPROTO_TCP)
		tcp_packet(r, p);
	else if (p->proto == IPPROTO_UDP)
		udp_packet(r, p);
}

void reasm_finish(struct reasm *r)
{
	for (uint32_t i = r->lru_head; i != NIL; i = r->flows[i].lru_next) {
		struct flow *f = &r->flows[i];

		if (f->state != FLOW_ACTIVE)
			continue;
		dir_flush(r, f, DIR_REQUEST, f->last_ns);
		dir_flush(r, f, DIR_RESPONSE, f->last_ns);
		flow_check_close(r, f, f->last_ns);
	}
}

int reasm_event_emit(struct reader *rd, const struct reasm_event *ev)
{
	struct chunk *c = reader_chunk_get(rd);

	if (!c)
		return -ENOBUFS;
	c->conn_key = ev->flow->conn_key;
	c->generation = ev->flow->generation;
	c->kind = ev->kind;
	c->dir = ev->dir;
	c->role = ROLE_UNKNOWN; /* a tap is neither end */
	c->flags = ev->flags | ev->flow->flags;
	c->ts_ns = ev->ts_ns;
	c->offset = ev->offset;
	c->len = ev->len;
	c->len_true = ev->len_true;
	c->pid = 0;
	c->reserved = 0;
	memset(c->comm, 0, sizeof(c->comm));
	c->src = ev->flow->client;
	c->dst = ev->flow->server;
	if (ev->len)
		memcpy(c->data, ev->data, ev->len);
	reader_emit(rd, c);
	return 0;
}
