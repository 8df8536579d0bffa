/*
 * Packet decoding: every link type, VLAN tags, IPv6 extension headers, IP fragments
 * and the malformed frames that must be counted and skipped. Frames are built here
 * byte by byte (layouts from the link-type registry, RFC 791, RFC 8200, RFC 9293).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <sys/socket.h>

#include "packet_decode.h"

static uint64_t counters[PKT_COUNTERS];
static struct pkt_decoder dec;

static int setup(void **state)
{
	(void)state;
	memset(counters, 0, sizeof(counters));
	return pkt_decoder_init(&dec, 4, counters);
}

static int teardown(void **state)
{
	(void)state;
	pkt_decoder_destroy(&dec);
	return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* TCP header (20 bytes, or 32 with a 12-byte option block) + payload at p. */
static size_t build_tcp(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags,
			const char *payload, bool options)
{
	size_t hl = options ? 32 : 20, n = strlen(payload);

	memset(p, 0, hl);
	put16(p, sport);
	put16(p + 2, dport);
	put32(p + 4, seq);
	put32(p + 8, 1000);
	p[12] = (uint8_t)((hl / 4) << 4);
	p[13] = flags;
	put16(p + 14, 65535);
	if (options)
		memset(p + 20, 1, 12); /* NOPs */
	memcpy(p + hl, payload, n);
	return hl + n;
}

static size_t build_udp(uint8_t *p, uint16_t sport, uint16_t dport, const char *payload)
{
	size_t n = strlen(payload);

	put16(p, sport);
	put16(p + 2, dport);
	put16(p + 4, (uint16_t)(8 + n));
	put16(p + 6, 0);
	memcpy(p + 8, payload, n);
	return 8 + n;
}

/* IPv4 header with l4 bytes after it; ihl in 32-bit words. */
static size_t build_ipv4(uint8_t *p, uint8_t proto, const uint8_t *l4, size_t l4_len, uint32_t ihl)
{
	size_t hl = ihl * 4;

	memset(p, 0, hl);
	p[0] = (uint8_t)(0x40 | ihl);
	put16(p + 2, (uint16_t)(hl + l4_len));
	put16(p + 4, 0x1234);
	p[8] = 64;
	p[9] = proto;
	put32(p + 12, 0x0a000001); /* 10.0.0.1 */
	put32(p + 16, 0x0a000002); /* 10.0.0.2 */
	memcpy(p + hl, l4, l4_len);
	return hl + l4_len;
}

static size_t build_ipv6(uint8_t *p, uint8_t nh, const uint8_t *rest, size_t rest_len)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	put16(p + 4, (uint16_t)rest_len);
	p[6] = nh;
	p[7] = 64;
	p[8] = 0x20, p[9] = 0x01, p[23] = 1; /* 2001::1 */
	p[24] = 0x20, p[25] = 0x01, p[39] = 2;
	memcpy(p + 40, rest, rest_len);
	return 40 + rest_len;
}

static size_t tcp_ipv4(uint8_t *p, const char *payload)
{
	uint8_t l4[256];
	size_t n = build_tcp(l4, 40000, 5432, 7, PKT_TCP_ACK | PKT_TCP_PSH, payload, true);

	return build_ipv4(p, IPPROTO_TCP, l4, n, 5);
}

static void assert_tcp_hello(const struct pkt *p, uint16_t family)
{
	assert_int_equal(p->family, family);
	assert_int_equal(p->proto, IPPROTO_TCP);
	assert_int_equal(p->sport, 40000);
	assert_int_equal(p->dport, 5432);
	assert_int_equal(p->seq, 7);
	assert_int_equal(p->ack, 1000);
	assert_int_equal(p->tcp_flags, PKT_TCP_ACK | PKT_TCP_PSH);
	assert_int_equal(p->payload_len, 5);
	assert_int_equal(p->payload_len_true, 5);
	assert_memory_equal(p->payload, "hello", 5);
}

static int decode(enum pkt_link link, const uint8_t *f, size_t n, struct pkt *out)
{
	return pkt_decode(&dec, link, f, (uint32_t)n, (uint32_t)n, 42, out);
}

static void test_link_from_dlt(void **state)
{
	enum pkt_link l;

	(void)state;
	assert_int_equal(pkt_link_from_dlt(DLT_EN10MB, &l), 0);
	assert_int_equal(l, PKT_LINK_ETHERNET);
	assert_int_equal(pkt_link_from_dlt(DLT_LINUX_SLL2, &l), 0);
	assert_int_equal(l, PKT_LINK_SLL2);
	assert_int_equal(pkt_link_from_dlt(DLT_IPV6, &l), 0);
	assert_int_equal(l, PKT_LINK_RAW);
	assert_int_equal(pkt_link_from_dlt(DLT_LOOP, &l), 0);
	assert_int_equal(l, PKT_LINK_LOOP);
	assert_true(pkt_link_from_dlt(DLT_IEEE802_11, &l) < 0);
}

static void test_ethernet_ipv4_tcp(void **state)
{
	uint8_t f[512] = {0};
	struct pkt p;
	size_t n;

	(void)state;
	put16(f + 12, 0x0800);
	n = 14 + tcp_ipv4(f + 14, "hello");
	/* Ethernet pads short frames: the padding must not become payload */
	assert_int_equal(decode(PKT_LINK_ETHERNET, f, n + 6, &p), 1);
	assert_tcp_hello(&p, AF_INET);
	assert_int_equal(p.ts_ns, 42);
	assert_memory_equal(p.saddr, "\x0a\x00\x00\x01", 4);
	assert_memory_equal(p.daddr, "\x0a\x00\x00\x02", 4);
}

static void test_vlan_and_qinq(void **state)
{
	uint8_t f[512] = {0};
	struct pkt p;
	size_t n;

	(void)state;
	put16(f + 12, 0x8100); /* 802.1Q */
	put16(f + 14, 100);
	put16(f + 16, 0x0800);
	n = 18 + tcp_ipv4(f + 18, "hello");
	assert_int_equal(decode(PKT_LINK_ETHERNET, f, n, &p), 1);
	assert_tcp_hello(&p, AF_INET);

	put16(f + 12, 0x88a8); /* 802.1ad outer + 802.1Q inner */
	put16(f + 14, 200);
	put16(f + 16, 0x8100);
	put16(f + 18, 100);
	put16(f + 20, 0x0800);
	n = 22 + tcp_ipv4(f + 22, "hello");
	assert_int_equal(decode(PKT_LINK_ETHERNET, f, n, &p), 1);
	assert_tcp_hello(&p, AF_INET);

	/* five stacked tags is not traffic */
	for (int i = 0; i < 5; i++) {
		put16(f + 12 + i * 4, 0x8100);
		put16(f + 14 + i * 4, 1);
	}
	put16(f + 32, 0x0800);
	n = 34 + tcp_ipv4(f + 34, "hello");
	assert_int_equal(decode(PKT_LINK_ETHERNET, f, n, &p), 0);
	assert_int_equal(counters[PKT_BAD_LINK], 1);
}

static void test_sll_and_sll2(void **state)
{
	uint8_t f[512] = {0};
	struct pkt p;
	size_t n;

	(void)state;
	put16(f, 0);	   /* to us */
	put16(f + 2, 772); /* ARPHRD_LOOPBACK */
	put16(f + 4, 6);
	put16(f + 14, 0x0800);
	n = 16 + tcp_ipv4(f + 16, "hello");
	assert_int_equal(decode(PKT_LINK_SLL, f, n, &p), 1);
	assert_tcp_hello(&p, AF_INET);

	memset(f, 0, sizeof(f));
	put16(f, 0x0800);
	put32(f + 4, 1); /* ifindex */
	put16(f + 8, 1);
	n = 20 + tcp_ipv4(f + 20, "hello");
	assert_int_equal(decode(PKT_LINK_SLL2, f, n, &p), 1);
	assert_tcp_hello(&p, AF_INET);

	put16(f, 0x0806); /* ARP */
	assert_int_equal(decode(PKT_LINK_SLL2, f, n, &p), 0);
	assert_int_equal(counters[PKT_NOT_IP], 1);
}

static void test_raw_null_loop(void **state)
{
	uint8_t f[512] = {0}, l4[256];
	struct pkt p;
	size_t n;

	(void)state;
	n = tcp_ipv4(f, "hello");
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 1);
	assert_tcp_hello(&p, AF_INET);

	n = build_tcp(l4, 40000, 5432, 7, PKT_TCP_ACK | PKT_TCP_PSH, "hello", false);
	n = build_ipv6(f, IPPROTO_TCP, l4, n);
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 1);
	assert_tcp_hello(&p, AF_INET6);
	assert_int_equal(p.daddr[15], 2);

	/* NULL: AF_INET6 = 30 written little-endian by a macOS host */
	f[0] = 30, f[1] = f[2] = f[3] = 0;
	n = 4 + build_ipv6(f + 4, IPPROTO_TCP, l4, 25);
	assert_int_equal(decode(PKT_LINK_NULL, f, n, &p), 1);
	assert_tcp_hello(&p, AF_INET6);
	/* NULL: AF_INET = 2 written big-endian */
	put32(f, 2);
	n = 4 + tcp_ipv4(f + 4, "hello");
	assert_int_equal(decode(PKT_LINK_NULL, f, n, &p), 1);
	assert_tcp_hello(&p, AF_INET);
	/* LOOP: network byte order always */
	assert_int_equal(decode(PKT_LINK_LOOP, f, n, &p), 1);
	put32(f, 99);
	assert_int_equal(decode(PKT_LINK_LOOP, f, n, &p), 0);
	assert_int_equal(counters[PKT_NOT_IP], 1);
}

static void test_ipv6_extension_headers(void **state)
{
	uint8_t f[512], rest[256];
	struct pkt p;
	size_t n, tl;

	(void)state;
	/* hop-by-hop (8 bytes) -> destination options (16 bytes) -> routing (8) -> TCP */
	memset(rest, 0, sizeof(rest));
	rest[0] = 60, rest[1] = 0;
	rest[8] = 43, rest[9] = 1;
	rest[24] = IPPROTO_TCP, rest[25] = 0;
	tl = build_tcp(rest + 32, 40000, 5432, 7, PKT_TCP_ACK | PKT_TCP_PSH, "hello", true);
	n = build_ipv6(f, 0, rest, 32 + tl);
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 1);
	assert_tcp_hello(&p, AF_INET6);

	/* AH (RFC 4302): length in 4-byte units minus 2: 4 -> 24 bytes */
	memset(rest, 0, sizeof(rest));
	rest[0] = IPPROTO_UDP, rest[1] = 4;
	tl = build_udp(rest + 24, 5353, 5353, "dns?");
	n = build_ipv6(f, 51, rest, 24 + tl);
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 1);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.payload_len, 4);

	/* an extension header longer than the payload */
	rest[0] = IPPROTO_TCP, rest[1] = 200;
	n = build_ipv6(f, 60, rest, 24);
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 0);
	assert_int_equal(counters[PKT_BAD_IPV6_EXT], 1);

	/* a chain of nine destination options headers */
	memset(rest, 0, sizeof(rest));
	for (int i = 0; i < 9; i++)
		rest[i * 8] = 60;
	n = build_ipv6(f, 60, rest, 80);
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 0);
	assert_int_equal(counters[PKT_BAD_IPV6_EXT], 2);

	/* ICMPv6 is counted, not decoded */
	n = build_ipv6(f, 58, rest, 8);
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 0);
	assert_int_equal(counters[PKT_OTHER_PROTO], 1);
}

/* A 40-byte UDP payload in three IPv4 fragments, delivered last first. */
static void test_ipv4_fragments(void **state)
{
	uint8_t dgram[64], f[128];
	const char *msg = "0123456789abcdefghijklmnopqrstuvwxyzABCD";
	size_t dl = build_udp(dgram, 1234, 53, msg); /* 48 bytes: fragments of 16 */
	struct pkt p;
	static const uint32_t order[] = {2, 0, 1};

	(void)state;
	for (int i = 0; i < 3; i++) {
		uint32_t k = order[i], n;

		n = (uint32_t)build_ipv4(f, IPPROTO_UDP, dgram + k * 16, 16, 5);
		put16(f + 6, (uint16_t)((k < 2 ? 0x2000 : 0) | (k * 16 / 8)));
		assert_int_equal(pkt_decode_ip(&dec, f, n, n, 1000 + i, &p), i == 2 ? 1 : 0);
	}
	assert_int_equal(dl, 48);
	assert_int_equal(p.proto, IPPROTO_UDP);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.payload_len, 40);
	assert_memory_equal(p.payload, msg, 40);
	assert_int_equal(counters[PKT_FRAGMENTS], 3);
	assert_int_equal(counters[PKT_FRAG_REASSEMBLED], 1);

	/* a middle fragment whose length is not a multiple of 8 is impossible */
	build_ipv4(f, IPPROTO_UDP, dgram, 13, 5);
	put16(f + 6, 0x2000);
	assert_int_equal(pkt_decode_ip(&dec, f, 33, 33, 2000, &p), 0);
	assert_int_equal(counters[PKT_FRAG_BAD], 1);
}

static void test_fragment_table_bounded(void **state)
{
	uint8_t f[64], l4[16] = {0};
	struct pkt p;

	(void)state;
	/* six datagrams that never complete in a table of four: the oldest are evicted */
	for (int i = 0; i < 6; i++) {
		build_ipv4(f, IPPROTO_UDP, l4, 16, 5);
		put16(f + 4, (uint16_t)i);
		put16(f + 6, 0x2000);
		assert_int_equal(pkt_decode_ip(&dec, f, 36, 36, 10 + i, &p), 0);
	}
	assert_int_equal(counters[PKT_FRAG_EVICTED], 2);
	/* and old ones time out */
	build_ipv4(f, IPPROTO_UDP, l4, 16, 5);
	put16(f + 4, 99);
	put16(f + 6, 0x2000);
	assert_int_equal(pkt_decode_ip(&dec, f, 36, 36, 10 + PKT_FRAG_TIMEOUT_NS + 100, &p), 0);
	assert_int_equal(counters[PKT_FRAG_EVICTED], 6);
}

static void test_ipv6_fragments(void **state)
{
	uint8_t dgram[64], rest[64], f[128];
	size_t dl = build_udp(dgram, 1234, 53, "0123456789abcdefghijklmnopqrstuvwxyzABCD");
	struct pkt p;

	(void)state;
	for (int k = 1; k >= 0; k--) { /* second half first */
		size_t n;

		memset(rest, 0, 8);
		rest[0] = IPPROTO_UDP;
		put16(rest + 2, (uint16_t)(k * 24 | (k == 0 ? 1 : 0)));
		put32(rest + 4, 0xabcdef);
		memcpy(rest + 8, dgram + k * 24, 24);
		n = build_ipv6(f, 44, rest, 32);
		assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), k == 0 ? 1 : 0);
	}
	assert_int_equal(dl, 48);
	assert_int_equal(p.family, AF_INET6);
	assert_int_equal(p.payload_len, 40);
	assert_memory_equal(p.payload, "0123456789abcdefghijklmnopqrstuvwxyzABCD", 40);
}

static void test_malformed(void **state)
{
	uint8_t f[512] = {0};
	struct pkt p;
	size_t n;

	(void)state;
	n = tcp_ipv4(f, "hello");
	f[0] = 0x44; /* IHL 4: below the minimum header */
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 0);
	assert_int_equal(counters[PKT_BAD_IP_HEADER], 1);
	f[0] = 0x4f; /* IHL 15 = 60 bytes: longer than the total length says */
	put16(f + 2, 40);
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 0);
	assert_int_equal(counters[PKT_BAD_IP_HEADER], 2);
	n = tcp_ipv4(f, "hello");
	put16(f + 2, 1500); /* total length beyond the frame on the wire */
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 0);
	assert_int_equal(counters[PKT_BAD_IP_HEADER], 3);
	n = tcp_ipv4(f, "hello");
	f[20 + 12] = 0x30; /* TCP data offset 3 words */
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 0);
	assert_int_equal(counters[PKT_BAD_TCP_HEADER], 1);
	f[20 + 12] = 0xf0; /* 60 bytes of TCP header in a 37-byte segment */
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 0);
	assert_int_equal(counters[PKT_BAD_TCP_HEADER], 2);
	f[0] = 0x75; /* version 7 */
	assert_int_equal(decode(PKT_LINK_RAW, f, n, &p), 0);
	assert_int_equal(counters[PKT_BAD_IP_HEADER], 4);

	/* every prefix of a valid frame is skipped and counted, never read past */
	put16(f + 12, 0x86dd);
	n = tcp_ipv4(f + 14, "hello");
	f[14] = 0x45;
	put16(f + 12, 0x0800);
	for (size_t cut = 0; cut < 14 + 52; cut++) {
		/* an exact-size heap copy: under ASan any read past the cut is caught */
		uint8_t *copy = malloc(cut ? cut : 1);

		memcpy(copy, f, cut);
		assert_int_equal(pkt_decode(&dec, PKT_LINK_ETHERNET, copy, (uint32_t)cut,
					    (uint32_t)(14 + n), 1, &p),
				 0);
		free(copy);
	}
	assert_true(counters[PKT_TRUNCATED] >= 14 + 52);
}

static void test_snaplen_payload(void **state)
{
	uint8_t f[512] = {0};
	struct pkt p;
	size_t n = tcp_ipv4(f, "hello world");

	(void)state;
	/* captured up to two payload bytes; the wire had all eleven */
	assert_int_equal(pkt_decode(&dec, PKT_LINK_RAW, f, (uint32_t)(n - 9), (uint32_t)n, 1, &p),
			 1);
	assert_int_equal(p.payload_len, 2);
	assert_int_equal(p.payload_len_true, 11);
	assert_int_equal(counters[PKT_PAYLOAD_TRUNCATED], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_link_from_dlt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ethernet_ipv4_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vlan_and_qinq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sll_and_sll2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_null_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_extension_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv4_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragment_table_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snaplen_payload, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
