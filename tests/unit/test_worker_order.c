/*
 * A worker shard fed the events of the eBPF source as the per-CPU rings can deliver them:
 * connections whose {tgid, fd, generation} differ by one same XOR (the numbers of a real
 * run), and a close that overtakes its connection's open and data (the process moved
 * between CPUs). Every connection must come out with its open and close records, and
 * whatever the worker could not place must be counted.
 *
 * The runtime is put together by hand around one reader pool, one queue and one worker
 * thread; the test is the reader: it puts chunks in the queue, counts reader passes (the
 * clock of the reorder window), ends the input, and reads the records back from the output
 * file.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "counters.h"
#include "runtime.h"

static const struct source_ops test_source = {
	.name = "test", .live = false, .unordered = true, /* as the bpf source: per-CPU rings */
};

struct fixture {
	struct config cfg;
	struct runtime rt;
	struct reader reader;
	struct worker worker;
	struct spsc_ring queue;
	char path[64];
	pthread_t thread;
	bool running;  /* the worker thread, until run_worker() or teardown() stops it */
	char *records; /* the output file, read after the worker ended */
	uint64_t ts_ns;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	int fd;

	if (!f)
		return -1;
	strcpy(f->path, "/tmp/test_worker_order.XXXXXX");
	fd = mkstemp(f->path);
	if (fd < 0)
		return -1;
	close(fd);
	config_defaults(&f->cfg);
	snprintf(f->cfg.output, sizeof(f->cfg.output), "file:%s", f->path);
	f->cfg.redact = REDACT_NONE;
	f->cfg.pii_rules[0] = '\0';
	f->cfg.chunk_bytes = 1024;
	f->cfg.chunk_pool = 256;
	f->cfg.shard_queue = 256;
	f->cfg.conn_table = 64;
	f->cfg.stats_interval_s = 0;
	f->cfg.workers = 1;
	f->rt.cfg = &f->cfg;
	f->rt.source.ops = &test_source;
	f->rt.nworkers = 1;
	f->rt.nreaders = 1;
	f->rt.readers = &f->reader;
	f->rt.workers = &f->worker;
	f->rt.queues = &f->queue;
	if (output_open(&f->rt.out, &f->cfg, 1, err, sizeof(err)) || output_start(f->rt.out) ||
	    spsc_ring_init(&f->queue, f->cfg.shard_queue) || reader_init(&f->reader, &f->rt, 0) ||
	    worker_init(&f->worker, &f->rt, 0) ||
	    pthread_create(&f->thread, NULL, worker_main, &f->worker))
		return -1;
	f->running = true;
	f->ts_ns = 1800000000000000000ull;
	*state = f;
	return 0;
}

static void worker_stop(struct fixture *f)
{
	if (!f->running)
		return;
	__atomic_store_n(&f->reader.rounds, UINT64_MAX, __ATOMIC_RELEASE);
	__atomic_store_n(&f->rt.readers_done, true, __ATOMIC_RELEASE);
	pthread_join(f->thread, NULL);
	f->running = false;
	output_close(f->rt.out);
	f->rt.out = NULL;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	worker_stop(f); /* a test that failed before the end of its input */
	worker_destroy(&f->worker);
	reader_destroy(&f->reader);
	spsc_ring_destroy(&f->queue);
	unlink(f->path);
	free(f->records);
	free(f);
	return 0;
}

/* One event of connection pid:fd:generation into the worker's queue, as the reader makes it. */
static void event(struct fixture *f, uint32_t pid, uint32_t fd, uint32_t generation,
		  enum chunk_kind kind, enum dir dir, uint64_t offset, const char *payload)
{
	struct chunk *c = chunk_pool_get(&f->reader.pool);
	uint32_t len = payload ? (uint32_t)strlen(payload) : 0;

	assert_non_null(c);
	memset(c, 0, sizeof(*c));
	c->conn_key = (uint64_t)pid << 32 | fd;
	c->generation = generation;
	c->kind = (uint8_t)kind;
	c->dir = (uint8_t)dir;
	c->role = ROLE_CLIENT;
	c->ts_ns = f->ts_ns += 1000;
	c->offset = offset;
	c->len = c->len_true = len;
	c->pid = pid;
	snprintf(c->comm, sizeof(c->comm), "pid%u", pid);
	c->src.family = c->dst.family = AF_INET;
	c->src.addr[0] = c->dst.addr[0] = 127;
	c->src.addr[3] = c->dst.addr[3] = 1;
	c->src.port = (uint16_t)(40000 + fd);
	c->dst.port = 6379;
	memcpy(c->data, payload ? payload : "", len);
	assert_true(spsc_ring_push(&f->queue, c));
}

/* A whole client connection in the order it happened: open, request, response, close. */
static void connection(struct fixture *f, uint32_t pid, uint32_t fd, uint32_t generation)
{
	event(f, pid, fd, generation, CHUNK_OPEN, DIR_REQUEST, 0, NULL);
	event(f, pid, fd, generation, CHUNK_DATA, DIR_REQUEST, 0, "*1\r\n$4\r\nPING\r\n");
	event(f, pid, fd, generation, CHUNK_DATA, DIR_RESPONSE, 0, "+PONG\r\n");
	event(f, pid, fd, generation, CHUNK_CLOSE, DIR_REQUEST, 0, NULL);
}

/*
 * Two reader passes go by: the worker's reorder window ends for what it holds, and it applies
 * the held closes. Returns once it closed `closed` connections in all.
 */
static void window_ends(struct fixture *f, uint64_t closed)
{
	__atomic_store_n(&f->reader.rounds, f->reader.rounds + 2, __ATOMIC_RELEASE);
	for (int i = 0; i < 5000; i++) {
		if (counter_read(&f->worker.counters[WORKER_CONN_CLOSED]) >= closed)
			return;
		usleep(1000);
	}
	fail_msg("the worker closed %lu connections in 5 s, expected %lu",
		 (unsigned long)counter_read(&f->worker.counters[WORKER_CONN_CLOSED]),
		 (unsigned long)closed);
}

/* Ends the input: the worker drains, ends every window, exits; what it wrote is read. */
static void run_worker(struct fixture *f)
{
	FILE *in;
	long size;

	worker_stop(f);
	in = fopen(f->path, "r");
	assert_non_null(in);
	fseek(in, 0, SEEK_END);
	size = ftell(in);
	rewind(in);
	f->records = calloc(1, (size_t)size + 1);
	assert_non_null(f->records);
	assert_int_equal(fread(f->records, 1, (size_t)size, in), (size_t)size);
	fclose(in);
}

/* Records of connection id ("pid:fd:generation") that contain what (NULL: any). */
static int records_of(const struct fixture *f, const char *id, const char *what)
{
	char needle[64];
	int n = 0;

	snprintf(needle, sizeof(needle), "\"id\":\"%s\"", id);
	for (const char *line = f->records; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char *copy = strndup(line, len);

		n += strstr(copy, needle) && (!what || strstr(copy, what));
		free(copy);
		line = end ? end + 1 : NULL;
	}
	return n;
}

static void assert_whole(const struct fixture *f, const char *id)
{
	if (records_of(f, id, "\"event\":\"open\"") != 1 ||
	    records_of(f, id, "\"reason\":\"closed\"") != 1)
		fail_msg("connection %s: %d open, %d closed records; late %lu, unknown closes "
			 "%lu\n%s",
			 id, records_of(f, id, "\"event\":\"open\""),
			 records_of(f, id, "\"reason\":\"closed\""),
			 (unsigned long)f->worker.counters[WORKER_LATE_EVENTS],
			 (unsigned long)f->worker.counters[WORKER_CLOSE_UNKNOWN], f->records);
}

/*
 * Pairs of connections, the second opened after the first closed, whose tgids, fds and
 * generations differ by the same XOR: numbers like those of a bpf_protocols run (pids and
 * generations handed out in sequence, fds small), e.g. a redis-cli readiness probe then a
 * curl, redis-server then nginx.
 */
static const struct {
	uint32_t pid, fd, generation;
} xor_pairs[][2] = {
	{{20952, 3, 34}, {20958, 5, 36}},  /* redis-cli probe, then curl: XOR 6 */
	{{20554, 7, 35}, {20558, 3, 39}},  /* redis-server, then nginx: XOR 4 */
	{{20956, 5, 40}, {20957, 4, 41}},  /* XOR 1 */
	{{20000, 3, 16}, {20013, 14, 29}}, /* XOR 13 */
};

/* A new connection is never taken for a late event of a closed one: it comes out whole. */
static void test_new_connection_is_not_late(void **state)
{
	struct fixture *f = *state;
	const size_t n = sizeof(xor_pairs) / sizeof(xor_pairs[0]);
	char id[32];

	for (size_t i = 0; i < n; i++)
		connection(f, xor_pairs[i][0].pid, xor_pairs[i][0].fd, xor_pairs[i][0].generation);
	window_ends(f, n); /* the first ones are closed and remembered as closed */
	for (size_t i = 0; i < n; i++)
		connection(f, xor_pairs[i][1].pid, xor_pairs[i][1].fd, xor_pairs[i][1].generation);
	run_worker(f);
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < 2; j++) {
			snprintf(id, sizeof(id), "%u:%u:%u", xor_pairs[i][j].pid,
				 xor_pairs[i][j].fd, xor_pairs[i][j].generation);
			assert_whole(f, id);
		}
	assert_int_equal(f->worker.counters[WORKER_LATE_EVENTS], 0);
	assert_int_equal(f->worker.counters[WORKER_CLOSE_UNKNOWN], 0);
	assert_int_equal(f->worker.counters[WORKER_CONN_CLOSED], 2 * n);
}

/* Events after a close are still recognised as late: counted, the connection not reopened. */
static void test_late_events_counted(void **state)
{
	struct fixture *f = *state;

	connection(f, 300, 3, 7);
	window_ends(f, 1);
	event(f, 300, 3, 7, CHUNK_DATA, DIR_RESPONSE, 7, "+OK\r\n");
	run_worker(f);
	assert_whole(f, "300:3:7");
	assert_int_equal(records_of(f, "300:3:7", "\"type\":\"conn\""), 2); /* not reopened */
	assert_int_equal(records_of(f, "300:3:7", "\"query\":\"PING\""), 1);
	assert_int_equal(f->worker.counters[WORKER_LATE_EVENTS], 1);
}

/*
 * The close of a process that moved between CPUs arrives before its connection's open and
 * data: it waits for them and closes the connection after them.
 */
static void test_close_before_open(void **state)
{
	struct fixture *f = *state;

	event(f, 400, 5, 9, CHUNK_CLOSE, DIR_REQUEST, 0, NULL);
	event(f, 400, 5, 9, CHUNK_OPEN, DIR_REQUEST, 0, NULL);
	event(f, 400, 5, 9, CHUNK_DATA, DIR_REQUEST, 0, "*1\r\n$4\r\nPING\r\n");
	event(f, 400, 5, 9, CHUNK_DATA, DIR_RESPONSE, 0, "+PONG\r\n");
	/* a close ahead of data only, the open in its place */
	event(f, 401, 6, 10, CHUNK_OPEN, DIR_REQUEST, 0, NULL);
	event(f, 401, 6, 10, CHUNK_CLOSE, DIR_REQUEST, 0, NULL);
	event(f, 401, 6, 10, CHUNK_DATA, DIR_REQUEST, 0, "*1\r\n$4\r\nPING\r\n");
	event(f, 401, 6, 10, CHUNK_DATA, DIR_RESPONSE, 0, "+PONG\r\n");
	/* the close first, then the data, the open last */
	event(f, 402, 7, 11, CHUNK_CLOSE, DIR_REQUEST, 0, NULL);
	event(f, 402, 7, 11, CHUNK_DATA, DIR_REQUEST, 0, "*1\r\n$4\r\nPING\r\n");
	event(f, 402, 7, 11, CHUNK_DATA, DIR_RESPONSE, 0, "+PONG\r\n");
	event(f, 402, 7, 11, CHUNK_OPEN, DIR_REQUEST, 0, NULL);
	run_worker(f);
	assert_whole(f, "400:5:9");
	assert_whole(f, "401:6:10");
	assert_whole(f, "402:7:11");
	/* the close after the data: it counts every byte, and the request came out */
	assert_int_equal(records_of(f, "400:5:9", "\"closed\",\"bytes_req\":14,\"bytes_resp\":7"),
			 1);
	assert_int_equal(records_of(f, "401:6:10", "\"closed\",\"bytes_req\":14,\"bytes_resp\":7"),
			 1);
	assert_int_equal(records_of(f, "402:7:11", "\"closed\",\"bytes_req\":14,\"bytes_resp\":7"),
			 1);
	assert_int_equal(records_of(f, "402:7:11", "\"query\":\"PING\""), 1);
	assert_int_equal(f->worker.counters[WORKER_CLOSE_UNKNOWN], 0);
	assert_int_equal(f->worker.counters[WORKER_LATE_EVENTS], 0);
	assert_int_equal(f->worker.counters[WORKER_CONN_CLOSED], 3);
}

/* A close whose connection never shows up is counted when its window ends, not lost. */
static void test_close_alone_counted(void **state)
{
	struct fixture *f = *state;

	event(f, 500, 4, 12, CHUNK_CLOSE, DIR_REQUEST, 0, NULL);
	connection(f, 501, 4, 13);
	run_worker(f);
	assert_int_equal(records_of(f, "500:4:12", NULL), 0);
	assert_whole(f, "501:4:13");
	assert_int_equal(f->worker.counters[WORKER_CLOSE_UNKNOWN], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_connection_is_not_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_events_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_before_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_alone_counted, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
