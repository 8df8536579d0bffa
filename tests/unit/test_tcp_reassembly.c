/*
 * TCP reassembly and flow identity: segments built as decoded packets (struct pkt) go
 * in, the events that come out are checked against the stream that was "sent": every
 * direction's data and gap events must tile the stream exactly (offsets contiguous),
 * and the data must equal the bytes sent whatever the order, duplication or overlap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tcp_reassembly.h"

#define STREAM_MAX (1u << 20)
#define EVENTS_MAX 4096

struct sink {
	uint32_t nevents;
	struct reasm_event ev[EVENTS_MAX]; /* data pointers are not kept */
	uint32_t opens, closes;
	uint64_t gaps[2];
	uint64_t next[2];
	uint8_t *stream[2]; /* reconstructed, gaps filled with '#' */
	uint64_t key;
	uint32_t generation;
	struct endpoint client, server;
};

static struct sink sink;
static uint64_t counters[REASM_COUNTERS];
static struct reasm *r;
static uint8_t sent[2][STREAM_MAX];

static void on_event(void *arg, const struct reasm_event *ev)
{
	struct sink *s = arg;

	assert_true(s->nevents < EVENTS_MAX);
	s->ev[s->nevents] = *ev;
	s->ev[s->nevents].data = NULL;
	s->nevents++;
	s->key = ev->flow->conn_key;
	s->generation = ev->flow->generation;
	s->client = ev->flow->client;
	s->server = ev->flow->server;
	switch (ev->kind) {
	case CHUNK_OPEN:
		s->opens++;
		s->next[0] = s->next[1] = 0;
		break;
	case CHUNK_CLOSE:
		s->closes++;
		break;
	case CHUNK_DATA:
	case CHUNK_GAP:
		/* the stream is tiled: each event starts where the previous one ended */
		assert_int_equal(ev->offset, s->next[ev->dir]);
		assert_true(ev->len <= ev->len_true);
		assert_true(ev->offset + ev->len_true <= STREAM_MAX);
		if (ev->kind == CHUNK_DATA)
			memcpy(s->stream[ev->dir] + ev->offset, ev->data, ev->len);
		else
			memset(s->stream[ev->dir] + ev->offset, '#', ev->len_true),
				s->gaps[ev->dir] += ev->len_true;
		s->next[ev->dir] += ev->len_true;
		break;
	}
}

static void make(uint32_t chunk_max, uint32_t pool_blocks, uint32_t dir_max_blocks)
{
	struct reasm_config cfg;

	reasm_config_defaults(&cfg);
	cfg.max_flows = 8;
	cfg.chunk_max = chunk_max;
	cfg.pool_blocks = pool_blocks;
	cfg.dir_max_blocks = dir_max_blocks;
	assert_int_equal(reasm_create(&r, &cfg, counters, on_event, &sink), 0);
}

static int setup(void **state)
{
	(void)state;
	free(sink.stream[0]);
	free(sink.stream[1]);
	memset(&sink, 0, sizeof(sink));
	memset(counters, 0, sizeof(counters));
	sink.stream[0] = calloc(1, STREAM_MAX);
	sink.stream[1] = calloc(1, STREAM_MAX);
	for (uint32_t i = 0; i < STREAM_MAX; i++) {
		sent[0][i] = (uint8_t)('a' + i % 26);
		sent[1][i] = (uint8_t)('A' + (i * 7) % 26);
	}
	make(16384, 256, 64);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	reasm_destroy(r);
	r = NULL;
	return 0;
}

/* client 10.0.0.1:40000 <-> server 10.0.0.2:5432 */
static struct pkt seg(enum dir dir, uint32_t seq, uint8_t flags, const uint8_t *data, uint32_t len)
{
	struct pkt p = {.family = AF_INET,
			.proto = IPPROTO_TCP,
			.tcp_flags = flags,
			.seq = seq,
			.payload = data,
			.payload_len = len,
			.payload_len_true = len};
	static uint64_t ts = 1000;

	p.ts_ns = ts += 1000;
	p.saddr[0] = 10, p.saddr[3] = dir == DIR_REQUEST ? 1 : 2;
	p.daddr[0] = 10, p.daddr[3] = dir == DIR_REQUEST ? 2 : 1;
	p.sport = dir == DIR_REQUEST ? 40000 : 5432;
	p.dport = dir == DIR_REQUEST ? 5432 : 40000;
	return p;
}

static void send_seg(enum dir dir, uint32_t isn, uint64_t off, uint32_t len, uint8_t flags)
{
	struct pkt p = seg(dir, isn + 1 + (uint32_t)off, flags, sent[dir] + off, len);

	reasm_packet(r, &p);
}

static void handshake(uint32_t cisn, uint32_t sisn)
{
	struct pkt p = seg(DIR_REQUEST, cisn, PKT_TCP_SYN, NULL, 0);

	reasm_packet(r, &p);
	p = seg(DIR_RESPONSE, sisn, PKT_TCP_SYN | PKT_TCP_ACK, NULL, 0);
	reasm_packet(r, &p);
}

static void fins(uint32_t cisn, uint64_t clen, uint32_t sisn, uint64_t slen)
{
	send_seg(DIR_REQUEST, cisn, clen, 0, PKT_TCP_FIN);
	send_seg(DIR_RESPONSE, sisn, slen, 0, PKT_TCP_FIN);
}

static void assert_stream(enum dir dir, uint64_t len)
{
	assert_int_equal(sink.next[dir], len);
	assert_memory_equal(sink.stream[dir], sent[dir], len);
}

static void test_in_order(void **state)
{
	(void)state;
	handshake(100, 9000);
	for (int i = 0; i < 10; i++)
		send_seg(DIR_REQUEST, 100, (uint64_t)i * 100, 100, 0);
	send_seg(DIR_RESPONSE, 9000, 0, 3000, 0);
	fins(100, 1000, 9000, 3000);
	assert_int_equal(sink.opens, 1);
	assert_int_equal(sink.closes, 1);
	assert_int_equal(sink.ev[0].kind, CHUNK_OPEN);
	assert_int_equal(sink.ev[sink.nevents - 1].kind, CHUNK_CLOSE);
	assert_stream(DIR_REQUEST, 1000);
	assert_stream(DIR_RESPONSE, 3000);
	assert_int_equal(sink.client.port, 40000);
	assert_int_equal(sink.server.port, 5432);
	assert_int_equal(sink.generation, 1);
	assert_int_equal(counters[REASM_GAPS], 0);
	assert_int_equal(reasm_blocks_held(r), 0);
}

static void test_reordered(void **state)
{
	static const int order[] = {3, 1, 0, 2, 7, 5, 6, 4, 9, 8};

	(void)state;
	handshake(100, 9000);
	for (int i = 0; i < 10; i++)
		send_seg(DIR_REQUEST, 100, (uint64_t)order[i] * 3000, 3000, 0);
	fins(100, 30000, 9000, 0);
	assert_stream(DIR_REQUEST, 30000);
	assert_int_equal(sink.gaps[0], 0);
	assert_true(counters[REASM_OUT_OF_ORDER] > 0);
	assert_int_equal(sink.closes, 1);
	assert_int_equal(reasm_blocks_held(r), 0);
}

static void test_duplicates_and_overlaps(void **state)
{
	uint8_t evil[500];

	(void)state;
	handshake(100, 9000);
	send_seg(DIR_REQUEST, 100, 0, 1000, 0);
	send_seg(DIR_REQUEST, 100, 0, 1000, 0);	   /* retransmission */
	send_seg(DIR_REQUEST, 100, 2000, 1000, 0); /* held */
	send_seg(DIR_REQUEST, 100, 2000, 1000, 0); /* held again */
	send_seg(DIR_REQUEST, 100, 500, 2000, 0);  /* covers delivered, hole and held */
	send_seg(DIR_REQUEST, 100, 2500, 1500, 0); /* overlaps the tail */
	/* an overlap with different bytes: the first copy wins, the difference is counted */
	memset(evil, 'X', sizeof(evil));
	{
		struct pkt p = seg(DIR_REQUEST, 100 + 1 + 4500, PKT_TCP_ACK, sent[0] + 4500, 1000);

		reasm_packet(r, &p);
		p = seg(DIR_REQUEST, 100 + 1 + 5000, PKT_TCP_ACK, evil, sizeof(evil));
		reasm_packet(r, &p);
	}
	send_seg(DIR_REQUEST, 100, 4000, 500, 0);
	fins(100, 5500, 9000, 0);
	assert_stream(DIR_REQUEST, 5500);
	assert_int_equal(sink.gaps[0], 0);
	assert_int_equal(counters[REASM_OVERLAP_DIFFERENT], 1);
	assert_true(counters[REASM_RETRANSMITS] >= 1);
	assert_int_equal(sink.closes, 1);
}

static void test_dropped_exact_gap(void **state)
{
	(void)state;
	handshake(100, 9000);
	send_seg(DIR_REQUEST, 100, 0, 1000, 0);
	/* [1000, 1700) never arrives */
	send_seg(DIR_REQUEST, 100, 1700, 300, 0);
	send_seg(DIR_REQUEST, 100, 2000, 1000, 0);
	assert_int_equal(sink.next[0], 1000); /* held, waiting for a retransmission */
	fins(100, 3000, 9000, 0);
	assert_int_equal(sink.closes, 0); /* the FIN does not give up the hole */
	reasm_finish(r);
	assert_int_equal(sink.gaps[0], 700);
	assert_int_equal(sink.next[0], 3000);
	assert_memory_equal(sink.stream[0], sent[0], 1000);
	assert_memory_equal(sink.stream[0] + 1700, sent[0] + 1700, 1300);
	assert_int_equal(sink.closes, 1); /* both FINs in order once the hole is given up */
	assert_int_equal(counters[REASM_GAP_BYTES], 700);
}

static void test_gap_when_acked(void **state)
{
	struct pkt ack;

	(void)state;
	handshake(100, 9000);
	send_seg(DIR_REQUEST, 100, 0, 1000, 0);
	send_seg(DIR_REQUEST, 100, 1500, 500, 0);
	/* the server acknowledges 2000: it had [1000,1500), only the capture lost it */
	ack = seg(DIR_RESPONSE, 9001, PKT_TCP_ACK, NULL, 0);
	ack.ack = 100 + 1 + 2000;
	reasm_packet(r, &ack);
	assert_int_equal(sink.gaps[0], 500);
	assert_int_equal(sink.next[0], 2000);
	assert_int_equal(counters[REASM_GAP_ACKED], 1);
}

static void test_hole_timeout(void **state)
{
	struct pkt p;

	(void)state;
	handshake(100, 9000);
	send_seg(DIR_REQUEST, 100, 0, 100, 0);
	send_seg(DIR_REQUEST, 100, 200, 100, 0);
	p = seg(DIR_RESPONSE, 9001, 0, NULL, 0);
	reasm_expire(r, p.ts_ns + 11ull * 1000000000ull);
	assert_int_equal(sink.gaps[0], 100);
	assert_int_equal(sink.next[0], 300);
	assert_int_equal(counters[REASM_HOLE_TIMEOUTS], 1);
}

static void test_wraparound(void **state)
{
	uint32_t isn = UINT32_MAX - 2500;

	(void)state;
	handshake(isn, UINT32_MAX);
	send_seg(DIR_REQUEST, isn, 2000, 1000, 0); /* crosses 2^32 */
	send_seg(DIR_REQUEST, isn, 4000, 1000, 0); /* after it */
	send_seg(DIR_REQUEST, isn, 0, 2000, 0);
	send_seg(DIR_REQUEST, isn, 3000, 1000, 0);
	send_seg(DIR_RESPONSE, UINT32_MAX, 0, 500, 0); /* server data starts at seq 0 */
	fins(isn, 5000, UINT32_MAX, 500);
	assert_stream(DIR_REQUEST, 5000);
	assert_stream(DIR_RESPONSE, 500);
	assert_int_equal(sink.gaps[0] + sink.gaps[1], 0);
	assert_int_equal(sink.closes, 1);
}

static void test_midstream(void **state)
{
	(void)state;
	/* no handshake: the first byte seen is offset 0; the lower port is the server */
	send_seg(DIR_RESPONSE, 5000, 100, 100, 0);
	send_seg(DIR_RESPONSE, 5000, 200, 100, 0);
	send_seg(DIR_REQUEST, 777, 0, 50, 0);
	send_seg(DIR_RESPONSE, 5000, 0, 100, 0); /* before the join: ignored */
	assert_int_equal(sink.opens, 1);
	assert_int_equal(sink.client.port, 40000);
	assert_int_equal(sink.server.port, 5432);
	assert_int_equal(sink.next[1], 200);
	assert_memory_equal(sink.stream[1], sent[1] + 100, 200);
	assert_stream(DIR_REQUEST, 50);
	assert_int_equal(counters[REASM_BEFORE_START], 1);
	/* a pure ACK of an unknown connection makes no flow */
	{
		struct pkt p = seg(DIR_REQUEST, 1, PKT_TCP_ACK, NULL, 0);

		p.sport = 1111;
		reasm_packet(r, &p);
		assert_int_equal(counters[REASM_NO_FLOW], 1);
		assert_int_equal(reasm_flows_active(r), 1);
	}
}

static void test_split_into_chunks(void **state)
{
	(void)state;
	teardown(NULL);
	make(1024, 256, 64);
	handshake(100, 9000);
	send_seg(DIR_REQUEST, 100, 3000, 3000, 0); /* held, then drained in pieces */
	send_seg(DIR_REQUEST, 100, 0, 3000, 0);
	assert_stream(DIR_REQUEST, 6000);
	for (uint32_t i = 0; i < sink.nevents; i++)
		assert_true(sink.ev[i].len <= 1024);
	assert_true(sink.nevents >= 1 + 6);
}

static void test_dir_cap(void **state)
{
	(void)state;
	teardown(NULL);
	make(16384, 256, 4); /* a direction may hold 4 blocks of 2 KiB */
	handshake(100, 9000);
	for (int i = 1; i <= 6; i++) /* hole at [0, 1000) then six held segments */
		send_seg(DIR_REQUEST, 100, (uint64_t)i * 1000, 1000, 0);
	assert_true(counters[REASM_DIR_CAP] >= 1);
	assert_int_equal(sink.gaps[0], 1000);
	assert_int_equal(sink.next[0], 7000);
	assert_memory_equal(sink.stream[0] + 1000, sent[0] + 1000, 6000);
	assert_true(reasm_blocks_held(r) <= 4);
}

static void test_pool_cap(void **state)
{
	(void)state;
	teardown(NULL);
	make(16384, 3, 64); /* three blocks for everyone */
	handshake(100, 9000);
	for (int i = 1; i <= 5; i++)
		send_seg(DIR_REQUEST, 100, (uint64_t)i * 1000, 1000, 0);
	assert_true(counters[REASM_POOL_EMPTY] >= 1);
	send_seg(DIR_REQUEST, 100, 6000, 1000, 0);
	reasm_finish(r);
	/* whatever was dropped is reported as gaps of exact size: the tiling holds */
	assert_int_equal(sink.next[0], 7000);
	assert_int_equal(sink.gaps[0] + (sink.next[0] - sink.gaps[0]), 7000);
	assert_true(sink.gaps[0] >= 1000);
	assert_true(reasm_blocks_held(r) == 0);
}

static void test_restart_generation(void **state)
{
	(void)state;
	handshake(100, 9000);
	send_seg(DIR_REQUEST, 100, 0, 10, 0);
	fins(100, 10, 9000, 0);
	assert_int_equal(sink.closes, 1);
	send_seg(DIR_REQUEST, 100, 11, 10, 0); /* after the close: ignored */
	assert_int_equal(counters[REASM_AFTER_CLOSE], 1);
	handshake(50000, 70000); /* same tuple, new connection */
	assert_int_equal(sink.opens, 2);
	assert_int_equal(sink.generation, 2);
	send_seg(DIR_REQUEST, 50000, 0, 20, 0);
	assert_stream(DIR_REQUEST, 20);
	/* RST closes at once */
	{
		struct pkt p = seg(DIR_RESPONSE, 70001, PKT_TCP_RST, NULL, 0);

		reasm_packet(r, &p);
	}
	assert_int_equal(sink.closes, 2);
}

static void test_udp(void **state)
{
	struct pkt p = {.family = AF_INET,
			.proto = IPPROTO_UDP,
			.sport = 53,
			.dport = 33333,
			.payload = sent[0],
			.payload_len = 40,
			.payload_len_true = 40,
			.ts_ns = 5};

	(void)state;
	p.saddr[3] = 1, p.daddr[3] = 2;
	reasm_packet(r, &p); /* a response seen first: port 53 is still the server */
	assert_int_equal(sink.client.port, 33333);
	assert_int_equal(sink.server.port, 53);
	assert_int_equal(sink.ev[1].dir, DIR_RESPONSE);
	assert_int_equal(sink.ev[1].kind, CHUNK_DATA);
	assert_int_equal(sink.ev[1].len, 40);
	{
		struct pkt q = p;

		q.sport = 33333, q.dport = 53;
		memcpy(q.saddr, p.daddr, 16);
		memcpy(q.daddr, p.saddr, 16);
		reasm_packet(r, &q);
		assert_int_equal(sink.ev[2].dir, DIR_REQUEST);
		assert_int_equal(sink.ev[2].flow->conn_key, sink.ev[1].flow->conn_key);
	}
	assert_int_equal(reasm_flows_active(r), 1);
}

static void test_flow_table_eviction(void **state)
{
	(void)state;
	for (uint16_t i = 0; i < 12; i++) { /* table of 8 */
		struct pkt p = seg(DIR_REQUEST, 5, PKT_TCP_SYN, NULL, 0);

		p.sport = (uint16_t)(40000 + i);
		reasm_packet(r, &p);
	}
	assert_int_equal(reasm_flows_active(r), 8);
	assert_int_equal(counters[REASM_FLOWS_EVICTED], 4);
	assert_int_equal(sink.closes, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reordered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_and_overlaps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_exact_gap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_when_acked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hole_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wraparound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_midstream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_into_chunks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_table_eviction, setup, teardown),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	free(sink.stream[0]);
	free(sink.stream[1]);
	return ret;
}
