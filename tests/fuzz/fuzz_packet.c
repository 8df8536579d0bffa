/*
 * libFuzzer target over the packet decoder and the TCP reassembler together.
 *
 * Input: byte 0 picks the link type (enum pkt_link, modulo), then frames, each a
 * 2-byte big-endian length, a 1-byte clock step (packet time advances by step * 10 ms,
 * so hole and idle timeouts fire) and the frame bytes. Small caps (flows, pool, per
 * direction) make every eviction and give-up path reachable.
 *
 * Besides "no crash, no over-read" it checks the reassembler's promise: for every
 * connection and direction, data and gap events tile the stream (each starts where the
 * previous ended), a data event never carries more than chunk_max captured bytes, and
 * captured bytes never exceed the bytes covered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet_decode.h"
#include "tcp_reassembly.h"

#define TRACK 256

struct track {
	uint64_t key;
	uint32_t generation;
	uint8_t used;
	uint64_t next[2];
};

static struct track tracks[TRACK];

static struct track *track_find(const struct reasm_flow_id *f)
{
	uint32_t h = (uint32_t)(f->conn_key ^ f->generation) % TRACK;

	for (uint32_t i = 0; i < TRACK; i++) {
		struct track *t = &tracks[(h + i) % TRACK];

		if (!t->used) {
			t->used = 1;
			t->key = f->conn_key;
			t->generation = f->generation;
			t->next[0] = t->next[1] = 0;
			return t;
		}
		if (t->key == f->conn_key && t->generation == f->generation)
			return t;
	}
	return NULL; /* table full: this input's later flows go unchecked */
}

static void on_event(void *arg, const struct reasm_event *ev)
{
	uint32_t chunk_max = *(const uint32_t *)arg;
	struct track *t = track_find(ev->flow);

	if (ev->dir > 1 || ev->len > ev->len_true || ev->len > chunk_max)
		abort();
	if (ev->len && !ev->data)
		abort();
	if (ev->len) { /* touch every byte: ASan catches a view past its buffer */
		volatile uint32_t sum = 0;

		for (uint32_t i = 0; i < ev->len; i++)
			sum += ev->data[i];
		(void)sum;
	}
	if (!t)
		return;
	switch (ev->kind) {
	case CHUNK_OPEN:
		/* a flow evicted and seen again starts over with the same key and generation */
		t->next[0] = t->next[1] = 0;
		break;
	case CHUNK_DATA:
	case CHUNK_GAP:
		if (ev->offset != t->next[ev->dir])
			abort();
		t->next[ev->dir] += ev->len_true;
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t pkt_counters[PKT_COUNTERS], reasm_counters[REASM_COUNTERS];
	static uint32_t chunk_max = 512;
	struct reasm_config cfg;
	struct pkt_decoder dec;
	struct reasm *r;
	uint64_t ts = 1000000000ull;
	enum pkt_link link;
	size_t pos = 1;

	if (size < 1)
		return 0;
	link = (enum pkt_link)(data[0] % (PKT_LINK_LOOP + 1));
	memset(tracks, 0, sizeof(tracks));
	reasm_config_defaults(&cfg);
	cfg.max_flows = 8;
	cfg.pool_blocks = 24;
	cfg.dir_max_blocks = 6;
	cfg.chunk_max = chunk_max;
	cfg.hole_timeout_ns = 50000000ull;   /* 50 ms */
	cfg.idle_timeout_ns = 2000000000ull; /* 2 s */
	if (pkt_decoder_init(&dec, 4, pkt_counters) < 0)
		return 0;
	if (reasm_create(&r, &cfg, reasm_counters, on_event, &chunk_max) < 0) {
		pkt_decoder_destroy(&dec);
		return 0;
	}
	while (pos + 3 <= size) {
		uint32_t len = (uint32_t)data[pos] << 8 | data[pos + 1];
		uint8_t step = data[pos + 2];
		struct pkt p;
		uint8_t *frame;

		pos += 3;
		if (len > size - pos)
			len = (uint32_t)(size - pos);
		ts += (uint64_t)step * 10000000ull;
		/* an exact-size copy: any read past the frame is a heap overflow ASan sees */
		frame = malloc(len ? len : 1);
		if (!frame)
			break;
		memcpy(frame, data + pos, len);
		if (pkt_decode(&dec, link, frame, len, len + (step & 3) * 100, ts, &p) == 1)
			reasm_packet(r, &p);
		free(frame);
		pos += len;
	}
	reasm_finish(r);
	reasm_destroy(r);
	pkt_decoder_destroy(&dec);
	return 0;
}
