/*
 * The protocol engine's own paths, observed through its counters: traffic nobody claims,
 * a gap in a protocol without resynchronisation, a message longer than the buffer bound,
 * more pipelined requests than the record pool holds. The bytes are PostgreSQL messages
 * built per the protocol (55.7), fed through tests/lib/engine_harness.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "counters.h"
#include "tests/lib/engine_harness.h"

struct feed {
	uint8_t buf[1 << 17];
	size_t len;
};

/* One chunk in the harness format: control (bit 0 direction, bit 1 gap), u16 length. */
static void chunk(struct feed *f, int dir, const void *p, size_t len)
{
	f->buf[f->len] = (uint8_t)dir;
	f->buf[f->len + 1] = (uint8_t)len;
	f->buf[f->len + 2] = (uint8_t)(len >> 8);
	memcpy(f->buf + f->len + 3, p, len);
	f->len += 3 + len;
}

static void gap(struct feed *f, int dir, uint16_t len)
{
	f->buf[f->len] = (uint8_t)(dir | 2);
	f->buf[f->len + 1] = (uint8_t)len;
	f->buf[f->len + 2] = (uint8_t)(len >> 8);
	f->len += 3;
}

/* A typed PostgreSQL message: type, int32 length (self included), body; sent in pieces
 * of at most `piece` bytes, as a socket may deliver it. */
static void pg_msg_pieces(struct feed *f, int dir, char type, const void *body, uint32_t len,
			  uint32_t piece)
{
	static uint8_t m[70000];

	m[0] = (uint8_t)type;
	m[1] = (uint8_t)((len + 4) >> 24);
	m[2] = (uint8_t)((len + 4) >> 16);
	m[3] = (uint8_t)((len + 4) >> 8);
	m[4] = (uint8_t)(len + 4);
	memcpy(m + 5, body, len);
	for (uint32_t off = 0; off < len + 5; off += piece)
		chunk(f, dir, m + off, len + 5 - off < piece ? len + 5 - off : piece);
}

static void pg_msg(struct feed *f, int dir, char type, const void *body, uint32_t len)
{
	uint8_t m[70000];

	m[0] = (uint8_t)type;
	m[1] = (uint8_t)((len + 4) >> 24);
	m[2] = (uint8_t)((len + 4) >> 16);
	m[3] = (uint8_t)((len + 4) >> 8);
	m[4] = (uint8_t)(len + 4);
	memcpy(m + 5, body, len);
	chunk(f, dir, m, len + 5);
}

static void pg_startup(struct feed *f)
{
	static const uint8_t startup[] =
		"\x00\x00\x00\x20\x00\x03\x00\x00user\0app\0database\0shop\0";

	chunk(f, 0, startup, 32); /* the literal's own NUL ends the parameter list */
	pg_msg(f, 1, 'R', "\x00\x00\x00\x00", 4);
	pg_msg(f, 1, 'Z', "I", 1);
}

static void pg_select(struct feed *f, const char *q)
{
	pg_msg(f, 0, 'Q', q, (uint32_t)strlen(q) + 1);
	pg_msg(f, 1, 'C', "SELECT 0", 9);
	pg_msg(f, 1, 'Z', "I", 1);
}

static struct feed feed;

static void test_unclaimed_traffic_is_counted(void **state)
{
	uint64_t before = counters_total("parser_unknown_total");

	(void)state;
	feed.len = 0;
	for (int i = 0; i < 6; i++)
		chunk(&feed, i & 1, "\x13\x37 not a protocol anyone speaks \xff\xfe", 34);
	engine_harness_run(feed.buf, feed.len, 9999);
	assert_int_equal(counters_total("parser_unknown_total"), before + 1);
}

static void test_session_records(void **state)
{
	uint64_t before = counters_total("proto_records_total");

	(void)state;
	feed.len = 0;
	pg_startup(&feed);
	pg_select(&feed, "SELECT 1");
	pg_select(&feed, "SELECT 2");
	engine_harness_run(feed.buf, feed.len, 5432);
	/* the login and two queries */
	assert_int_equal(counters_total("proto_records_total"), before + 3);
}

static void test_gap_gives_up_and_finishes_pending(void **state)
{
	uint64_t lost = counters_total("proto_lost_total");
	uint64_t incomplete = counters_total("proto_incomplete_total");
	uint64_t gaps = counters_total("proto_gaps_total");

	(void)state;
	feed.len = 0;
	pg_startup(&feed);
	pg_msg(&feed, 0, 'Q', "SELECT 1", 9);
	gap(&feed, 1, 100); /* the response is lost: no message boundary to find again */
	pg_select(&feed, "SELECT 2");
	engine_harness_run(feed.buf, feed.len, 5432);
	assert_int_equal(counters_total("proto_gaps_total"), gaps + 1);
	assert_int_equal(counters_total("proto_lost_total"), lost + 1);
	assert_int_equal(counters_total("proto_incomplete_total"), incomplete + 1);
}

static void test_oversize_message_is_streamed(void **state)
{
	uint64_t oversize = counters_total("postgres_oversize_total");
	uint64_t records = counters_total("proto_records_total");
	uint64_t lost = counters_total("proto_lost_total");
	static char q[20000];

	(void)state;
	feed.len = 0;
	pg_startup(&feed);
	memcpy(q, "SELECT '", 8);
	memset(q + 8, 'x', sizeof(q) - 11);
	memcpy(q + sizeof(q) - 3, "'\0", 2);
	/* longer than the harness's 4 KiB buffer: its head is kept, the rest skipped */
	pg_msg_pieces(&feed, 0, 'Q', q, (uint32_t)strlen(q) + 1, 1000);
	pg_msg(&feed, 1, 'C', "SELECT 1", 9);
	pg_msg(&feed, 1, 'Z', "I", 1);
	pg_select(&feed, "SELECT 2");
	engine_harness_run(feed.buf, feed.len, 5432);
	assert_int_equal(counters_total("postgres_oversize_total"), oversize + 1);
	assert_int_equal(counters_total("proto_lost_total"), lost);
	assert_int_equal(counters_total("proto_records_total"), records + 3);
}

static void test_pipeline_deeper_than_pending_limit(void **state)
{
	uint64_t overflow = counters_total("parser_pending_overflow_total");
	uint64_t records = counters_total("proto_records_total");

	(void)state;
	feed.len = 0;
	pg_startup(&feed);
	/* 80 Query messages before any answer: more than a connection may have pending */
	for (int i = 0; i < 80; i++)
		pg_msg(&feed, 0, 'Q', "SELECT 1", 9);
	for (int i = 0; i < 80; i++) {
		pg_msg(&feed, 1, 'C', "SELECT 1", 9);
		pg_msg(&feed, 1, 'Z', "I", 1);
	}
	engine_harness_run(feed.buf, feed.len, 5432);
	assert_true(counters_total("parser_pending_overflow_total") > overflow);
	/* what could be paired was reported, nothing twice */
	assert_true(counters_total("proto_records_total") > records + 1);
	assert_true(counters_total("proto_records_total") <= records + 81);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unclaimed_traffic_is_counted),
		cmocka_unit_test(test_session_records),
		cmocka_unit_test(test_gap_gives_up_and_finishes_pending),
		cmocka_unit_test(test_oversize_message_is_streamed),
		cmocka_unit_test(test_pipeline_deeper_than_pending_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
