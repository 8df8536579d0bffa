/*
 * Output tests: producers on their own threads submit numbered records; the test reads
 * what reached the sink and checks every record arrived exactly once and, per producer, in
 * order. Socket sinks get a receiver thread that goes away gracefully for ~2 s while the
 * producers keep going, then comes back.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "counters.h"
#include "output.h"

#define MAX_PRODUCERS 8

struct fixture {
	char dir[64];
	char spool_dir[96];
	char err[256];
	struct config cfg;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ww-output-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->spool_dir, sizeof(f->spool_dir), "%s/spool", f->dir);
	f->cfg.batch_bytes = 1024;
	f->cfg.batches = 8;
	f->cfg.flush_ms = 100;
	snprintf(f->cfg.spool_dir, sizeof(f->cfg.spool_dir), "%s", f->spool_dir);
	f->cfg.spool_bytes = 64ull << 20;
	*state = f;
	return 0;
}

static void dir_remove(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) < 0 && errno == EISDIR)
			dir_remove(path);
	}
	closedir(d);
	rmdir(dir);
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	dir_remove(f->dir);
	free(f);
	return 0;
}

/* ---- producers ---------------------------------------------------------------------- */

struct producer_arg {
	struct output *out;
	uint32_t producer;
	uint32_t first_batch; /* numbering goes on across phases */
	uint32_t batches;
	uint32_t records_per_batch;
	uint32_t pause_us; /* between batches */
};

/* Record n of producer p: a JSON object of varying length (so writes split anywhere). */
static uint32_t record_format(char *buf, size_t cap, uint32_t p, uint32_t n)
{
	static const char pad[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";

	return (uint32_t)snprintf(buf, cap, "{\"p\":%u,\"n\":%u,\"pad\":\"%.*s\"}\n", p, n,
				  (int)(n % 50), pad);
}

static void *producer_main(void *arg)
{
	struct producer_arg *a = arg;

	for (uint32_t i = 0; i < a->batches; i++) {
		struct out_batch *b = output_wait_batch(a->out, a->producer);
		uint32_t n0 = (a->first_batch + i) * a->records_per_batch;

		for (uint32_t r = 0; r < a->records_per_batch; r++) {
			uint32_t len = record_format(b->data + b->len, b->cap - b->len, a->producer,
						     n0 + r);

			if (b->len + len >= b->cap)
				abort(); /* the sizes above are wrong; cmocka asserts are main-thread only */
			b->len += len;
			b->records++;
		}
		output_batch_submit(a->out, b);
		if (a->pause_us)
			usleep(a->pause_us);
	}
	/* An empty batch is just handed back. */
	output_batch_submit(a->out, output_wait_batch(a->out, a->producer));
	return NULL;
}

static void producers_run(struct output *out, uint32_t producers, uint32_t first_batch,
			  uint32_t batches, uint32_t per_batch, uint32_t pause_us)
{
	pthread_t th[MAX_PRODUCERS];
	struct producer_arg args[MAX_PRODUCERS];

	for (uint32_t p = 0; p < producers; p++) {
		args[p] = (struct producer_arg){out, p, first_batch, batches, per_batch, pause_us};
		assert_int_equal(pthread_create(&th[p], NULL, producer_main, &args[p]), 0);
	}
	for (uint32_t p = 0; p < producers; p++)
		pthread_join(th[p], NULL);
}

/* ---- checking what arrived ---------------------------------------------------------- */

/* Expects records next[p], next[p] + 1, ... of each producer, each whole, none twice. */
struct record_check {
	uint32_t next[MAX_PRODUCERS];
	uint64_t records;
	bool allow_gaps; /* a peer that resets loses what sat in the kernel's buffers */
	uint64_t lost;
	char error[200];
};

static void check_line(struct record_check *c, const char *line, size_t len)
{
	char want[128];
	unsigned p, n;

	if (c->error[0])
		return;
	if (sscanf(line, "{\"p\":%u,\"n\":%u,", &p, &n) != 2 || p >= MAX_PRODUCERS) {
		snprintf(c->error, sizeof(c->error), "bad line '%.*s'", (int)(len < 80 ? len : 80),
			 line);
		return;
	}
	if (c->allow_gaps && n > c->next[p]) {
		c->lost += n - c->next[p];
		c->next[p] = n;
	}
	if (n != c->next[p]) {
		snprintf(c->error, sizeof(c->error), "producer %u: record %u, expected %u", p, n,
			 c->next[p]);
		return;
	}
	if (record_format(want, sizeof(want), p, n) != len + 1 || memcmp(want, line, len) != 0) {
		snprintf(c->error, sizeof(c->error), "producer %u record %u damaged", p, n);
		return;
	}
	c->next[p]++;
	c->records++;
}

/* Feeds bytes; whole lines are checked, a partial one is kept in buf/fill. */
static void check_bytes(struct record_check *c, char *buf, size_t *fill)
{
	char *start = buf, *end = buf + *fill, *nl;

	while ((nl = memchr(start, '\n', (size_t)(end - start)))) {
		check_line(c, start, (size_t)(nl - start));
		start = nl + 1;
	}
	*fill = (size_t)(end - start);
	memmove(buf, start, *fill);
}

static void check_file(struct record_check *c, const char *path)
{
	char buf[4096];
	size_t fill = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	while ((n = read(fd, buf + fill, sizeof(buf) - fill)) > 0) {
		fill += (size_t)n;
		check_bytes(c, buf, &fill);
	}
	close(fd);
	if (fill && !c->error[0])
		snprintf(c->error, sizeof(c->error), "file %s ends inside a record", path);
}

static void check_complete(const struct record_check *c, uint32_t producers, uint32_t records)
{
	if (c->error[0])
		fail_msg("%s", c->error);
	for (uint32_t p = 0; p < producers; p++)
		if (c->next[p] != records)
			fail_msg("producer %u: %u records arrived, expected %u", p, c->next[p],
				 records);
}

static uint64_t counter(const char *name)
{
	return counters_total(name);
}

/* ---- file sink ---------------------------------------------------------------------- */

static struct output *output_open_ok(struct fixture *f, uint32_t producers)
{
	struct output *out;
	int ret = output_open(&out, &f->cfg, producers, f->err, sizeof(f->err));

	if (ret)
		fail_msg("output_open: %d %s", ret, f->err);
	assert_int_equal(output_start(out), 0);
	return out;
}

static void test_output_file_every_record_once_in_order(void **state)
{
	struct fixture *f = *state;
	const uint32_t producers = 4, batches = 300, per_batch = 10;
	uint64_t written0 = counter("output_records_written_total");
	uint64_t batches0 = counter("output_batches_written_total");
	struct record_check c = {0};
	char path[128];
	struct output *out;

	snprintf(path, sizeof(path), "%s/out.ndjson", f->dir);
	snprintf(f->cfg.output, sizeof(f->cfg.output), "file:%s", path);
	out = output_open_ok(f, producers);
	producers_run(out, producers, 0, batches, per_batch, 0);
	output_close(out);

	check_file(&c, path);
	check_complete(&c, producers, batches * per_batch);
	assert_int_equal(counter("output_records_written_total") - written0,
			 producers * batches * per_batch);
	assert_int_equal(counter("output_batches_written_total") - batches0, producers * batches);
	/* 0640 as asked (less what the umask takes away). */
	{
		struct stat st;

		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0137, 0);
	}
}

/* Waits until counter name reaches want (the output thread is asynchronous). */
static void counter_wait(const char *name, uint64_t want)
{
	uint64_t deadline = mono_ms() + 5000;

	while (counter(name) < want) {
		if (mono_ms() > deadline)
			fail_msg("%s stayed at %llu, expected %llu", name,
				 (unsigned long long)counter(name), (unsigned long long)want);
		sleep_ms(1);
	}
}

static void test_output_file_reopen(void **state)
{
	struct fixture *f = *state;
	const uint32_t producers = 2, batches = 50, per_batch = 10;
	uint64_t written0 = counter("output_records_written_total");
	uint64_t reopens0 = counter("output_reopens_total");
	struct record_check c = {0};
	char path[128], rotated[140];
	struct output *out;

	snprintf(path, sizeof(path), "%s/out.ndjson", f->dir);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	snprintf(f->cfg.output, sizeof(f->cfg.output), "file:%s", path);
	out = output_open_ok(f, producers);

	producers_run(out, producers, 0, batches, per_batch, 0);
	counter_wait("output_records_written_total", written0 + producers * batches * per_batch);
	assert_int_equal(rename(path, rotated), 0);
	output_request_reopen(out);
	counter_wait("output_reopens_total", reopens0 + 1);
	producers_run(out, producers, batches, batches, per_batch, 0);
	output_close(out);

	/* The rotated file has exactly the first half, the new one exactly the second. */
	check_file(&c, rotated);
	check_complete(&c, producers, batches * per_batch);
	check_file(&c, path);
	check_complete(&c, producers, 2 * batches * per_batch);
}

static void test_output_open_errors(void **state)
{
	static const char *const bad[] = {
		"stderr",
		"file:",
		"tcp:localhost",
		"tcp:[::1]9000",
		"tcp::::1:80",
		"unix:",
		"file:/nonexistent-ww-dir/out.ndjson",
	};
	struct fixture *f = *state;
	struct output *out;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(f->cfg.output, sizeof(f->cfg.output), "%s", bad[i]);
		f->err[0] = '\0';
		assert_true(output_open(&out, &f->cfg, 1, f->err, sizeof(f->err)) < 0);
		assert_null(out);
		if (!strstr(f->err, "output"))
			fail_msg("'%s': message '%s' does not name the output", bad[i], f->err);
	}
	/* A socket sink nobody listens on is not an error: it spools. IPv6 goes in brackets. */
	static const char *const good[] = {"unix:%s/nobody.sock", "tcp:[::1]:9", "tcp:localhost:9",
					   "tcp:127.0.0.1:9"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(f->cfg.output, sizeof(f->cfg.output), good[i], f->dir);
		if (output_open(&out, &f->cfg, 1, f->err, sizeof(f->err)) != 0)
			fail_msg("'%s': %s", f->cfg.output, f->err);
		output_close(out); /* never started: closes at once, nothing to drain */
	}
}

/* ---- socket sinks ------------------------------------------------------------------- */

struct receiver {
	int family;
	struct sockaddr_storage addr; /* where it listens; the port is fixed after the first */
	socklen_t addr_len;
	int lfd;
	uint64_t away_after; /* records a connection gets before the peer goes away */
	uint32_t away_times; /* the first away_times connections end so; 0 = never */
	bool reset;	     /* go away with a RST instead of gracefully */
	uint32_t away_ms;    /* how long it stays away */
	bool slow_first;     /* read slowly with a small buffer before going away */
	int done;	     /* set by the test once wirewatch has closed its output */
	uint32_t connections;
	struct record_check check;
	pthread_t thread;
};

static int listener_open(struct receiver *r)
{
	int one = 1, fd = socket(r->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (r->family == AF_UNIX) {
		unlink(((struct sockaddr_un *)&r->addr)->sun_path);
	} else {
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	}
	if (r->slow_first && r->connections == 0) {
		/* Accepted sockets inherit it: a small window makes wirewatch's sends come back
		 * short and EAGAIN, so partial batches are exercised. */
		int small = 4096;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	if (bind(fd, (struct sockaddr *)&r->addr, r->addr_len) < 0)
		fail_msg("bind: %s", strerror(errno));
	if (r->family != AF_UNIX) {
		r->addr_len = sizeof(r->addr);
		getsockname(fd, (struct sockaddr *)&r->addr, &r->addr_len);
	}
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

/* Reads one connection to EOF; with stop_after, goes away after that many more records. */
static void receiver_read(struct receiver *r, int fd, uint64_t stop_after)
{
	uint64_t base = r->check.records;
	static char buf[1 << 16];
	size_t fill = 0;
	bool away = false;

	for (;;) {
		bool slow = r->slow_first && r->connections == 0 && !away;
		size_t want = slow ? 256 : sizeof(buf) - fill;
		ssize_t n;

		if (want > sizeof(buf) - fill)
			want = sizeof(buf) - fill;
		n = read(fd, buf + fill, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		fill += (size_t)n;
		check_bytes(&r->check, buf, &fill);
		if (slow)
			usleep(2000);
		if (stop_after && r->reset && r->check.records - base >= stop_after) {
			struct linger lg = {.l_onoff = 1, .l_linger = 0};

			/* Crash-like: whatever sits in either kernel's buffers is gone, and the
			 * record in flight is cut. */
			close(r->lfd);
			r->lfd = -1;
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
			return;
		}
		if (stop_after && !away && r->check.records - base >= stop_after) {
			/* Going away gracefully. The listener goes first: a connection wirewatch
			 * made into its backlog meanwhile would be reset with data in it. */
			close(r->lfd);
			r->lfd = -1;
			shutdown(fd, SHUT_WR);
			away = true;
		}
	}
	if (fill && !r->check.error[0])
		snprintf(r->check.error, sizeof(r->check.error),
			 "connection %u ended inside a record", r->connections);
	close(fd);
}

static void *receiver_main(void *arg)
{
	struct receiver *r = arg;

	for (;;) {
		struct pollfd pfd = {.fd = r->lfd, .events = POLLIN};
		bool going_away;
		int fd;

		if (r->lfd < 0) {
			sleep_ms(r->away_ms);
			r->lfd = listener_open(r);
		}
		if (poll(&pfd, 1, 50) <= 0) {
			if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
				break;
			continue;
		}
		fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		going_away = r->connections < r->away_times;
		receiver_read(r, fd, going_away ? r->away_after : 0);
		r->connections++;
	}
	if (r->lfd >= 0)
		close(r->lfd);
	return NULL;
}

static void receiver_start(struct receiver *r)
{
	r->lfd = listener_open(r);
	assert_int_equal(pthread_create(&r->thread, NULL, receiver_main, r), 0);
}

static void receiver_stop(struct receiver *r)
{
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	pthread_join(r->thread, NULL);
}

static void sink_name(struct fixture *f, const struct receiver *r)
{
	if (r->family == AF_UNIX)
		snprintf(f->cfg.output, sizeof(f->cfg.output), "unix:%s",
			 ((const struct sockaddr_un *)&r->addr)->sun_path);
	else
		snprintf(f->cfg.output, sizeof(f->cfg.output), "tcp:127.0.0.1:%u",
			 ntohs(((const struct sockaddr_in *)&r->addr)->sin_port));
}

static void receiver_addr(struct fixture *f, struct receiver *r, int family)
{
	r->family = family;
	if (family == AF_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&r->addr;

		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/sink.sock", f->dir);
		r->addr_len = sizeof(*sun);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&r->addr;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = 0; /* ephemeral, then reused when it listens again */
		r->addr_len = sizeof(*sin);
	}
}

/*
 * The receiver reads a while, goes away for ~2 s while producers keep submitting, comes back
 * on the same address; every record must arrive once, in order, whole.
 */
static struct receiver *socket_sink_run(struct fixture *f, int family, uint32_t batches,
					uint32_t per_batch, uint32_t pause_us, uint32_t away_ms,
					bool reset)
{
	const uint32_t producers = 2;
	uint64_t spooled0 = counter("output_records_spooled_total");
	uint64_t replayed0 = counter("output_records_replayed_total");
	uint64_t dropped0 = counter("output_records_dropped_total");
	uint64_t reconnects0 = counter("output_reconnects_total");
	struct receiver *r = calloc(1, sizeof(*r));
	struct output *out;

	assert_non_null(r);
	receiver_addr(f, r, family);
	r->away_after = 1500;
	r->away_ms = away_ms;
	r->away_times = reset ? 2 : 1; /* the second reset lands while the spool is replayed */
	r->reset = r->check.allow_gaps = reset;
	r->slow_first = family == AF_INET;
	receiver_start(r);
	sink_name(f, r);

	out = output_open_ok(f, producers);
	producers_run(out, producers, 0, batches, per_batch, pause_us);
	output_close(out);
	receiver_stop(r);
	if (reset)
		return r;

	check_complete(&r->check, producers, batches * per_batch);
	assert_true(r->connections >= 2);
	assert_true(counter("output_records_spooled_total") > spooled0);
	assert_true(counter("output_records_replayed_total") > replayed0);
	assert_true(counter("output_reconnects_total") > reconnects0);
	assert_int_equal(counter("output_records_dropped_total"), dropped0);
	assert_int_equal(counter("spool_bytes"), 0);
	return r;
}

static void socket_sink_survives_peer_going_away(struct fixture *f, int family, uint32_t batches,
						 uint32_t per_batch, uint32_t pause_us,
						 uint32_t away_ms)
{
	free(socket_sink_run(f, family, batches, per_batch, pause_us, away_ms, false));
}

static void test_output_tcp_peer_goes_away(void **state)
{
	socket_sink_survives_peer_going_away(*state, AF_INET, 1000, 8, 3000, 2000);
}

/* Batches of ~50 KiB into a slow reader: sends come back short, a batch is cut mid-record. */
static void test_output_tcp_slow_peer_big_batches(void **state)
{
	struct fixture *f = *state;

	f->cfg.batch_bytes = 64 << 10;
	socket_sink_survives_peer_going_away(f, AF_INET, 150, 800, 10000, 300);
}

/*
 * A peer that resets mid-stream: what the kernels held is lost (and counted nowhere: the
 * kernel took it), but nothing arrives twice or out of order, and the next connection starts
 * on a whole record, not on the rest of the one the reset cut.
 */
static void test_output_tcp_peer_resets(void **state)
{
	struct fixture *f = *state;
	const uint32_t total = 150 * 800;
	uint64_t errors0 = counter("output_write_errors_total");
	struct receiver *r;

	f->cfg.batch_bytes = 64 << 10;
	r = socket_sink_run(f, AF_INET, 150, 800, 10000, 300, true);
	if (r->check.error[0])
		fail_msg("%s", r->check.error);
	/* The last record of each producer made it, so everything after the reset did. */
	for (uint32_t p = 0; p < 2; p++)
		assert_int_equal(r->check.next[p], total);
	assert_true(r->connections >= 2);
	/* Lost: at most what two kernels' buffers held per reset, never a duplicate. */
	assert_true(r->check.records + r->check.lost == 2 * total);
	assert_true(counter("output_write_errors_total") > errors0);
	free(r);
}

static void test_output_unix_peer_goes_away(void **state)
{
	socket_sink_survives_peer_going_away(*state, AF_UNIX, 1000, 8, 3000, 2000);
}

/* Nobody listens during a whole run: everything is spooled, and the next run sends it first. */
static void test_output_spool_survives_restart(void **state)
{
	struct fixture *f = *state;
	const uint32_t producers = 2, batches = 40, per_batch = 5;
	uint64_t spooled0 = counter("output_records_spooled_total");
	uint64_t replayed0 = counter("output_records_replayed_total");
	struct receiver *r = calloc(1, sizeof(*r));
	struct output *out;

	assert_non_null(r);
	receiver_addr(f, r, AF_UNIX);
	sink_name(f, r);
	f->cfg.flush_ms = 2; /* close waits 100 ms for a peer that never comes */
	out = output_open_ok(f, producers);
	producers_run(out, producers, 0, batches, per_batch, 0);
	output_close(out);
	assert_int_equal(counter("output_records_spooled_total") - spooled0,
			 producers * batches * per_batch);
	assert_true(counter("spool_bytes") > 0);

	receiver_start(r);
	f->cfg.flush_ms = 100;
	out = output_open_ok(f, producers);
	producers_run(out, producers, batches, batches, per_batch, 0);
	output_close(out);
	receiver_stop(r);

	check_complete(&r->check, producers, 2 * batches * per_batch);
	/* At least the first run's records; the second run's may queue behind them. */
	assert_true(counter("output_records_replayed_total") - replayed0 >=
		    producers * batches * per_batch);
	assert_int_equal(counter("spool_bytes"), 0);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_output_file_every_record_once_in_order,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_output_file_reopen, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_output_open_errors, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_output_tcp_peer_goes_away, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_output_unix_peer_goes_away, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_output_tcp_slow_peer_big_batches,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_output_tcp_peer_resets, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_output_spool_survives_restart, fixture_setup,
						fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
