/*
 * The output thread: takes the batches producers submit, in order per producer, and writes
 * them to the one sink with io_uring, several batches gathered into one writev/sendmsg per
 * loop turn. Everything about the sink (fd, io_uring, spool, connection state) belongs to
 * this thread alone; producers only touch their two rings.
 *
 * stdout and file sinks are written in order, waiting for the disk or the pipe when they are
 * slow (producers then wait for batches, see output_wait_batch); a file is reopened between
 * batches when output_request_reopen asks (log rotation).
 *
 * Socket sinks (tcp:HOST:PORT, unix:PATH) must never make producers wait on the network.
 * While the connection is down, the socket is full (EAGAIN), the peer is going away, or the
 * spool still holds anything, batches go to the spool (runtime/spool.h) instead; once the
 * connection is up and writable the spool is sent first, oldest first, then live batches,
 * so the peer sees every producer's records in order. The connection is retried with
 * exponential backoff (100 ms doubling to 5 s).
 *
 * What the peer sees across reconnects. Only whole batches or the unsent rest of one (tracked
 * by offset) are sent, so a record is neither repeated nor split, with one exception: a
 * connection that breaks (RST, EPIPE, an error) after the kernel took part of a record. The
 * unsent rest is then spooled from the start of that record, so the next connection gets it
 * whole, and the dead connection ended on an unterminated line, which newline-framed
 * receivers discard. Bytes the kernel accepted for a peer that then crashes can be lost: the
 * kernel said they were sent. A peer that goes away gracefully (shuts down its write side
 * and reads until our EOF) loses nothing and sees no cut record: we stop sending new
 * batches, finish the record in progress (for up to a second), spool the rest, close, and
 * reconnect later.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <ck_ring.h>
#include <liburing.h>

#include "counters.h"
#include "output.h"
#include "spool.h"

#define OUT_IOV_MAX	       64 /* batches gathered into one write */
#define OUT_SEND_BUDGET	       64 /* writes per loop turn before the rings are looked at again */
#define OUT_MS		       1000000ull
#define OUT_IDLE_NS	       (1 * OUT_MS) /* nothing to do: sleep this long, never spin */
#define OUT_WAIT_BATCH_NS      200000ull
#define OUT_BACKOFF_MIN_NS     (100 * OUT_MS)
#define OUT_BACKOFF_MAX_NS     (5000 * OUT_MS)
#define OUT_CONNECT_TIMEOUT_NS (5000 * OUT_MS) /* a SYN nobody answers must not stall us */
/* A peer going away gets this long to take the rest of a record it has the head of. */
#define OUT_FINISH_RECORD_NS (1000 * OUT_MS)
#define OUT_ERROR_RETRY_NS   (100 * OUT_MS)

_Static_assert(__atomic_always_lock_free(sizeof(int), 0), "reopen flag must be lock-free");

enum out_counter {
	OUT_RECORDS_WRITTEN,
	OUT_BYTES_WRITTEN,
	OUT_BATCHES_WRITTEN,
	OUT_RECORDS_SPOOLED,
	OUT_RECORDS_REPLAYED,
	OUT_RECORDS_DROPPED,
	OUT_WRITE_ERRORS,
	OUT_RECONNECTS,
	OUT_REOPENS,
	OUT_SPOOL_CORRUPT,
	OUT_SPOOL_BYTES,
	OUT_COUNTERS,
};

static const struct counter_def out_counter_defs[OUT_COUNTERS] = {
	[OUT_RECORDS_WRITTEN] = {"output_records_written_total",
				 "Records written to the sink (those sent from the spool too)"},
	[OUT_BYTES_WRITTEN] = {"output_bytes_written_total", "Bytes the sink accepted"},
	[OUT_BATCHES_WRITTEN] = {"output_batches_written_total",
				 "Batches (or spool frames) written to the sink whole"},
	[OUT_RECORDS_SPOOLED] = {"output_records_spooled_total",
				 "Records put in the on-disk spool because the socket sink was "
				 "down, full or still draining the spool"},
	[OUT_RECORDS_REPLAYED] = {"output_records_replayed_total", "Records sent from the spool"},
	[OUT_RECORDS_DROPPED] =
		{"output_records_dropped_total",
		 "Records lost: the spool was full or failed, or a file sink failed for good"},
	[OUT_WRITE_ERRORS] = {"output_write_errors_total",
			      "Failed writes, sends, reopens and spool writes"},
	[OUT_RECONNECTS] = {"output_reconnects_total",
			    "Times the socket sink connection came back after being lost"},
	[OUT_REOPENS] = {"output_reopens_total", "Times the file sink was reopened"},
	[OUT_SPOOL_CORRUPT] = {"spool_corrupt_frames_total",
			       "Corrupt or truncated spool frames skipped (with the rest of their "
			       "segment)"},
	[OUT_SPOOL_BYTES] = {"spool_bytes", "Bytes of the spool on disk now"},
};

/*
 * The counter block lives as long as the process: the registry keeps the pointer until exit
 * (counters.h) while an output may be opened and closed more than once (tests do). Owner:
 * the thread running output_main, one output at a time; readers: metrics and stats.
 */
static uint64_t out_counters[OUT_COUNTERS];
static pthread_once_t out_counters_once = PTHREAD_ONCE_INIT;

enum sink_kind { SINK_STDOUT, SINK_FILE, SINK_TCP, SINK_UNIX };
enum sock_state { SOCK_DOWN, SOCK_CONNECTING, SOCK_UP };

/*
 * One producer's batches and rings. A batch belongs to exactly one side at a time:
 *   free ring -> producer fills it -> submit ring -> output thread writes or spools it
 *   -> free ring.
 * submit: enqueued only by the producer thread, dequeued only by the output thread.
 * free: enqueued only by the output thread (and output_open, before any thread runs),
 * dequeued only by the producer thread.
 * Ordering: ck_ring's SPSC enqueue fences the slot write before publishing the tail, and
 * dequeue loads the tail before the slot, so whoever dequeues a batch sees every byte the
 * other side wrote into it before enqueueing. Each ring has 2^k slots and holds 2^k - 1
 * entries, sized to hold all of the producer's batches, so an enqueue never fails.
 */
struct out_producer {
	struct ck_ring submit;
	struct ck_ring free;
	struct ck_ring_buffer *submit_slots;
	struct ck_ring_buffer *free_slots;
	struct out_batch *batches;
	char *data; /* batches * batch_bytes, one allocation */
};

struct output {
	/* Frozen by output_open; read by every thread. */
	enum sink_kind kind;
	char path[CONFIG_STR_MAX]; /* file sink */
	struct addrinfo *addrs;	   /* tcp sink: every address HOST resolved to at open */
	struct sockaddr_un sun;	   /* unix sink */
	socklen_t sun_len;
	uint32_t producers;
	uint32_t batches;  /* per producer */
	uint64_t drain_ns; /* output_close waits this long for the spool to drain */
	struct out_producer *prod;

	/*
	 * Cross-thread flags (atomic builtins). reopen: set by any thread or signal handler,
	 * exchanged to 0 by the output thread. stopping: set once by output_close (release)
	 * after every producer has stopped; the output thread reads it (acquire) before
	 * emptying the rings, so that pass sees every batch ever submitted.
	 */
	int reopen;
	int stopping;
	pthread_t thread;
	bool started;

	/*
	 * Everything below belongs to the output thread: output_open prepares it before the
	 * thread exists and output_close frees it after the join.
	 */
	struct io_uring ring;
	bool ring_ready;
	int fd;
	struct out_batch **pending; /* collected batches, oldest at pend_head */
	uint32_t pend_head;
	uint32_t pend_count;
	uint32_t pend_cap; /* every batch there is: pending never overflows */
	uint32_t head_off; /* bytes of the oldest pending batch already written */
	struct iovec iov[OUT_IOV_MAX];
	struct msghdr msg;
	uint64_t retry_ns; /* fd sinks: no write before this after an error */

	/* Socket sinks. */
	struct spool *spool;
	uint64_t corrupt_seen; /* spool_corrupt_frames already added to the counter */
	enum sock_state state;
	const struct addrinfo *addr_next;
	uint64_t next_connect_ns;
	uint64_t connect_deadline_ns;
	uint64_t backoff_ns;
	bool ever_connected;
	bool blocked;	 /* a send hit EAGAIN: nothing more until POLLOUT */
	bool going_away; /* the peer shut down its side: see the file comment */
	uint64_t going_away_deadline_ns;
	uint32_t spool_off; /* bytes of the spool's head frame sent on this connection */
};

static void out_counters_register(void)
{
	/* A full registry only hides these from metrics; counting still works. */
	counters_register(NULL, NULL, out_counter_defs, OUT_COUNTERS, out_counters);
}

static void cnt(enum out_counter c, uint64_t n)
{
	counter_add(&out_counters[c], n);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000ull),
			      .tv_nsec = (long)(ns % 1000000000ull)};

	nanosleep(&ts, NULL);
}

static uint32_t count_records(const char *p, uint32_t len)
{
	const char *end = p + len;
	uint32_t n = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p++;
	}
	return n;
}

/* The start of the record that byte off belongs to (records end with '\n'). */
static uint32_t record_start(const char *p, uint32_t off)
{
	const char *nl = off ? memrchr(p, '\n', off) : NULL;

	return nl ? (uint32_t)(nl - p) + 1 : 0;
}

static bool record_cut(const char *p, uint32_t off)
{
	return off > 0 && p[off - 1] != '\n';
}

/* The end of the record cut at off (just past its '\n'), or len if it has none. */
static uint32_t record_end(const char *p, uint32_t off, uint32_t len)
{
	const char *nl = memchr(p + off, '\n', len - off);

	return nl ? (uint32_t)(nl - p) + 1 : len;
}

static void spool_sync_counters(struct output *o)
{
	uint64_t corrupt = spool_corrupt_frames(o->spool);

	cnt(OUT_SPOOL_CORRUPT, corrupt - o->corrupt_seen);
	o->corrupt_seen = corrupt;
	__atomic_store_n(&out_counters[OUT_SPOOL_BYTES], spool_bytes(o->spool), __ATOMIC_RELAXED);
}

/* ---- batches and rings ------------------------------------------------------------- */

static struct out_batch *pend_at(const struct output *o, uint32_t i)
{
	return o->pending[(o->pend_head + i) % o->pend_cap];
}

static void pend_pop(struct output *o)
{
	o->pend_head = (o->pend_head + 1) % o->pend_cap;
	o->pend_count--;
	o->head_off = 0;
}

/* Hands a batch back to its producer (output thread only). */
static void batch_release(struct output *o, struct out_batch *b)
{
	struct out_producer *p = &o->prod[b->producer];

	b->len = 0;
	b->records = 0;
	ck_ring_enqueue_spsc(&p->free, p->free_slots, b); /* sized to hold them all */
}

/* Moves every submitted batch into pending, producer by producer (order kept per producer). */
static uint32_t batches_collect(struct output *o)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < o->producers; i++) {
		struct out_producer *p = &o->prod[i];
		void *v;

		while (ck_ring_dequeue_spsc(&p->submit, p->submit_slots, &v)) {
			struct out_batch *b = v;

			if (b->len == 0) {
				batch_release(o, b);
				continue;
			}
			o->pending[(o->pend_head + o->pend_count) % o->pend_cap] = b;
			o->pend_count++;
			n++;
		}
	}
	return n;
}

/* Accounts bytes the sink took from the front of pending, releasing finished batches. */
static void live_advance(struct output *o, uint32_t bytes)
{
	cnt(OUT_BYTES_WRITTEN, bytes);
	while (bytes > 0) {
		struct out_batch *b = pend_at(o, 0);
		uint32_t left = b->len - o->head_off;

		if (bytes < left) {
			cnt(OUT_RECORDS_WRITTEN, count_records(b->data + o->head_off, bytes));
			o->head_off += bytes;
			return;
		}
		cnt(OUT_RECORDS_WRITTEN,
		    o->head_off ? count_records(b->data + o->head_off, left) : b->records);
		cnt(OUT_BATCHES_WRITTEN, 1);
		bytes -= left;
		pend_pop(o);
		batch_release(o, b);
	}
}

/* Fills o->iov from the front of pending; limit caps the head batch (0: no cap). */
static uint32_t live_gather(struct output *o, uint32_t max, uint32_t head_limit)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < o->pend_count && n < max; i++) {
		struct out_batch *b = pend_at(o, i);
		uint32_t off = i ? 0 : o->head_off;
		uint32_t end = i == 0 && head_limit ? head_limit : b->len;

		o->iov[n].iov_base = b->data + off;
		o->iov[n].iov_len = end - off;
		n++;
	}
	return n;
}

/* ---- io_uring ---------------------------------------------------------------------- */

/*
 * Submits the one prepared SQE and waits for it: a loop turn has at most one write in flight,
 * which keeps ownership simple (the iovecs and batches stay put until it completes).
 * Returns the CQE's result.
 */
static int ring_complete(struct output *o)
{
	struct io_uring_cqe *cqe;
	int ret;

	for (;;) {
		ret = io_uring_submit(&o->ring);
		if (ret >= 0)
			break;
		/* The SQE is still queued: submit it again rather than prepare a second one. */
		if (ret != -EINTR) {
			cnt(OUT_WRITE_ERRORS, 1);
			sleep_ns(OUT_IDLE_NS);
		}
	}
	do
		ret = io_uring_wait_cqe(&o->ring, &cqe);
	while (ret == -EINTR);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&o->ring, cqe);
	return ret;
}

/* ---- stdout and file sinks --------------------------------------------------------- */

static void live_drop_head(struct output *o)
{
	struct out_batch *b = pend_at(o, 0);

	cnt(OUT_RECORDS_DROPPED,
	    o->head_off ? count_records(b->data + o->head_off, b->len - o->head_off) : b->records);
	pend_pop(o);
	batch_release(o, b);
}

static void file_reopen(struct output *o)
{
	int fd = open(o->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0) {
		/* Keep writing to the old file: better rotated late than lost. */
		cnt(OUT_WRITE_ERRORS, 1);
		return;
	}
	close(o->fd);
	o->fd = fd;
	cnt(OUT_REOPENS, 1);
}

static bool fd_step(struct output *o, uint64_t now, bool stopping)
{
	struct io_uring_sqe *sqe;
	uint32_t n;
	int res;

	/* Between batches only, so a batch never straddles the old and the new file. */
	if (o->kind == SINK_FILE && o->head_off == 0 &&
	    __atomic_load_n(&o->reopen, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&o->reopen, 0, __ATOMIC_ACQ_REL))
		file_reopen(o);
	if (o->pend_count == 0 || now < o->retry_ns)
		return false;
	n = live_gather(o, OUT_IOV_MAX, 0);
	sqe = io_uring_get_sqe(&o->ring);
	/* Offset -1: the file position, as write(2) does; O_APPEND files append whatever. */
	io_uring_prep_writev(sqe, o->fd, o->iov, n, (uint64_t)-1);
	res = ring_complete(o);
	if (res > 0) {
		live_advance(o, (uint32_t)res); /* a short write resends the rest next turn */
		return true;
	}
	if (res == -EINTR)
		return true;
	if (res == -EAGAIN || res == 0) {
		/* A non-blocking stdout that is full: try again shortly, do not spin. */
		o->retry_ns = now + OUT_IDLE_NS;
		return false;
	}
	cnt(OUT_WRITE_ERRORS, 1);
	/* Errors that a retry cannot fix lose the batch; others (ENOSPC, EIO) wait a bit. */
	if (stopping || res == -EPIPE || res == -EBADF || res == -EINVAL || res == -EFBIG) {
		live_drop_head(o);
		return true;
	}
	o->retry_ns = now + OUT_ERROR_RETRY_NS;
	return false;
}

/* ---- socket sinks ------------------------------------------------------------------ */

/* Spools len bytes holding `records` records, at the back (or the front), or counts a drop. */
static void spool_put(struct output *o, const char *p, uint32_t len, uint32_t records, bool front)
{
	int err = front ? spool_prepend(o->spool, p, len) : spool_append(o->spool, p, len);

	if (err == 0) {
		cnt(OUT_RECORDS_SPOOLED, records);
	} else {
		cnt(OUT_RECORDS_DROPPED, records);
		if (err != -ENOSPC)
			cnt(OUT_WRITE_ERRORS, 1);
	}
	spool_sync_counters(o);
}

/*
 * Moves pending batches to the back of the spool, oldest first, except a head the live
 * connection has part of: its rest must follow on that same connection (or, if it breaks,
 * go to the front: see sock_teardown).
 */
static bool spool_route(struct output *o)
{
	uint32_t keep = o->state == SOCK_UP && o->head_off > 0 ? 1 : 0;

	if (o->pend_count <= keep)
		return false;
	for (uint32_t i = keep; i < o->pend_count; i++) {
		struct out_batch *b = pend_at(o, i);
		uint32_t off = i == 0 ? o->head_off : 0;

		spool_put(o, b->data + off, b->len - off,
			  off ? count_records(b->data + off, b->len - off) : b->records, false);
		batch_release(o, b);
	}
	if (keep == 0) {
		o->pend_head = (o->pend_head + o->pend_count) % o->pend_cap;
		o->head_off = 0;
	}
	o->pend_count = keep;
	return true;
}

static void sock_retry_later(struct output *o, uint64_t now)
{
	o->state = SOCK_DOWN;
	o->next_connect_ns = now + o->backoff_ns;
	o->backoff_ns =
		o->backoff_ns * 2 > OUT_BACKOFF_MAX_NS ? OUT_BACKOFF_MAX_NS : o->backoff_ns * 2;
}

/*
 * Closes the connection and puts back in line what it had part of: the head batch's rest
 * (from the start of the record it cut, see the file comment) goes before everything
 * spooled, and a spool frame in progress is trimmed to what was not sent.
 */
static void sock_teardown(struct output *o, uint64_t now)
{
	if (o->fd >= 0) {
		char scratch[256];

		/* Unread input would turn close() into a RST, and a RST makes the peer discard
		 * what it has not read yet. */
		if (o->state == SOCK_UP)
			while (recv(o->fd, scratch, sizeof(scratch), MSG_DONTWAIT) > 0)
				;
		close(o->fd);
		o->fd = -1;
	}
	o->blocked = false;
	o->going_away = false;
	if (o->pend_count && o->head_off > 0) {
		struct out_batch *b = pend_at(o, 0);
		uint32_t off = record_start(b->data, o->head_off);
		bool front = !spool_empty(o->spool);

		spool_put(o, b->data + off, b->len - off,
			  off ? count_records(b->data + off, b->len - off) : b->records, front);
		pend_pop(o);
		batch_release(o, b);
	}
	if (o->spool_off > 0) {
		const char *p;
		uint32_t len;

		if (spool_peek(o->spool, &p, &len) == 0) {
			uint32_t off = record_start(p, o->spool_off);

			if (off > 0 && spool_trim_head(o->spool, off) < 0)
				cnt(OUT_WRITE_ERRORS, 1); /* the frame goes again whole */
		}
		o->spool_off = 0;
		spool_sync_counters(o);
	}
	sock_retry_later(o, now);
}

static void sock_up(struct output *o, int fd)
{
	o->fd = fd;
	o->state = SOCK_UP;
	o->blocked = false;
	o->going_away = false;
	o->backoff_ns = OUT_BACKOFF_MIN_NS;
	if (o->ever_connected)
		cnt(OUT_RECONNECTS, 1);
	o->ever_connected = true;
}

static void sock_connect_start(struct output *o, uint64_t now)
{
	const struct sockaddr *sa;
	socklen_t sa_len;
	int fd;

	if (o->kind == SINK_TCP) {
		/* Each attempt tries the next address HOST resolved to. */
		const struct addrinfo *ai = o->addr_next;

		o->addr_next = ai->ai_next ? ai->ai_next : o->addrs;
		sa = ai->ai_addr;
		sa_len = ai->ai_addrlen;
	} else {
		sa = (const struct sockaddr *)&o->sun;
		sa_len = o->sun_len;
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		cnt(OUT_WRITE_ERRORS, 1);
		sock_retry_later(o, now);
		return;
	}
	if (connect(fd, sa, sa_len) == 0) {
		sock_up(o, fd);
	} else if (errno == EINPROGRESS) {
		o->fd = fd;
		o->state = SOCK_CONNECTING;
		o->connect_deadline_ns = now + OUT_CONNECT_TIMEOUT_NS;
	} else {
		/* ECONNREFUSED, ENOENT, EAGAIN (unix backlog full): the peer is not there yet. */
		close(fd);
		sock_retry_later(o, now);
	}
}

static void sock_connect_check(struct output *o, uint64_t now)
{
	struct pollfd pfd = {.fd = o->fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int soerr = 0, fd = o->fd;

	if (poll(&pfd, 1, 0) <= 0) {
		if (now >= o->connect_deadline_ns) {
			close(fd);
			o->fd = -1;
			sock_retry_later(o, now);
		}
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
		close(fd);
		o->fd = -1;
		sock_retry_later(o, now);
		return;
	}
	sock_up(o, fd);
}

/* Looks at the live connection: the peer going away or gone, writability after EAGAIN. */
static void sock_check_peer(struct output *o, uint64_t now)
{
	struct pollfd pfd = {.fd = o->fd};
	bool away = false;

	if (!o->going_away)
		pfd.events |= POLLIN | POLLRDHUP;
	if (o->blocked)
		pfd.events |= POLLOUT;
	if (poll(&pfd, 1, 0) <= 0)
		return;
	if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) {
		/* Reset, or both directions shut: nothing more can go out on it. */
		if (pfd.revents & POLLERR)
			cnt(OUT_WRITE_ERRORS, 1);
		sock_teardown(o, now);
		return;
	}
	if (pfd.revents & POLLIN) {
		char scratch[256];
		ssize_t n;

		/* Peers have nothing to tell us; read only to see EOF (and not to RST on close). */
		while ((n = recv(o->fd, scratch, sizeof(scratch), MSG_DONTWAIT)) > 0)
			;
		if (n == 0) {
			away = true;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			cnt(OUT_WRITE_ERRORS, 1);
			sock_teardown(o, now);
			return;
		}
	}
	if (pfd.revents & POLLRDHUP)
		away = true;
	if (away) {
		o->going_away = true;
		o->going_away_deadline_ns = now + OUT_FINISH_RECORD_NS;
	}
	if (pfd.revents & POLLOUT)
		o->blocked = false;
}

/* Sends o->iov[0..n); returns the bytes sent, or 0 when blocked or torn down. */
static uint32_t sock_send_iov(struct output *o, uint32_t n, uint64_t now)
{
	struct io_uring_sqe *sqe;
	int res;

	o->msg = (struct msghdr){.msg_iov = o->iov, .msg_iovlen = n};
	do {
		sqe = io_uring_get_sqe(&o->ring);
		/* MSG_DONTWAIT: a full socket answers EAGAIN (and batches go to the spool) instead
		 * of io_uring parking the send; MSG_NOSIGNAL: a dead peer is EPIPE, not SIGPIPE. */
		io_uring_prep_sendmsg(sqe, o->fd, &o->msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		res = ring_complete(o);
	} while (res == -EINTR);
	if (res > 0)
		return (uint32_t)res;
	if (res == 0 || res == -EAGAIN || res == -EWOULDBLOCK) {
		o->blocked = true;
		return 0;
	}
	cnt(OUT_WRITE_ERRORS, 1);
	sock_teardown(o, now);
	return 0;
}

static bool sock_send_live(struct output *o, uint64_t now)
{
	uint32_t n, sent, limit = 0;

	if (o->going_away) {
		struct out_batch *b = pend_at(o, 0);

		limit = record_end(b->data, o->head_off, b->len);
		n = live_gather(o, 1, limit);
	} else {
		n = live_gather(o, OUT_IOV_MAX, 0);
	}
	sent = sock_send_iov(o, n, now);
	if (!sent)
		return false;
	live_advance(o, sent);
	return true;
}

static bool sock_send_spool(struct output *o, uint64_t now)
{
	const char *p;
	uint32_t len, end, sent, records;

	if (spool_peek(o->spool, &p, &len) < 0) {
		spool_sync_counters(o); /* it may have skipped corrupt frames on the way */
		return false;
	}
	end = o->going_away ? record_end(p, o->spool_off, len) : len;
	o->iov[0].iov_base = (char *)p + o->spool_off;
	o->iov[0].iov_len = end - o->spool_off;
	sent = sock_send_iov(o, 1, now);
	if (!sent)
		return false;
	records = count_records(p + o->spool_off, sent);
	cnt(OUT_BYTES_WRITTEN, sent);
	cnt(OUT_RECORDS_WRITTEN, records);
	cnt(OUT_RECORDS_REPLAYED, records);
	o->spool_off += sent;
	if (o->spool_off == len) {
		if (spool_consume(o->spool) < 0)
			cnt(OUT_WRITE_ERRORS, 1); /* sent, but may be sent again after a restart */
		o->spool_off = 0;
		cnt(OUT_BATCHES_WRITTEN, 1);
	}
	spool_sync_counters(o);
	return true;
}

/* The peer is going away: finish the record it has the head of, then close. */
static bool sock_going_away(struct output *o, uint64_t now)
{
	bool cut_live = o->pend_count && record_cut(pend_at(o, 0)->data, o->head_off);
	bool cut_spool = false;

	if (o->spool_off > 0) {
		const char *p;
		uint32_t len;

		cut_spool = spool_peek(o->spool, &p, &len) == 0 && record_cut(p, o->spool_off);
	}
	if ((!cut_live && !cut_spool) || now >= o->going_away_deadline_ns) {
		sock_teardown(o, now);
		return true;
	}
	if (o->blocked)
		return false;
	return cut_live ? sock_send_live(o, now) : sock_send_spool(o, now);
}

static bool sock_step(struct output *o, uint64_t now)
{
	bool progress = false;

	switch (o->state) {
	case SOCK_DOWN:
		if (now >= o->next_connect_ns)
			sock_connect_start(o, now);
		break;
	case SOCK_CONNECTING:
		sock_connect_check(o, now);
		break;
	case SOCK_UP:
		sock_check_peer(o, now);
		break;
	}
	if (o->state != SOCK_UP || o->blocked || o->going_away || !spool_empty(o->spool))
		progress |= spool_route(o);
	if (o->state == SOCK_UP && o->going_away)
		return sock_going_away(o, now) || progress;
	for (int i = 0; i < OUT_SEND_BUDGET && o->state == SOCK_UP && !o->blocked; i++) {
		bool sent;

		/* A head partly sent goes on first; then the spool; then, only when the spool
		 * is empty, live batches. */
		if (o->pend_count && (o->head_off > 0 || spool_empty(o->spool)))
			sent = sock_send_live(o, now);
		else if (!spool_empty(o->spool))
			sent = sock_send_spool(o, now);
		else
			break;
		if (!sent)
			break;
		progress = true;
	}
	return progress;
}

/* Nothing moved this turn: wait ~1 ms, or less when the socket wakes us. */
static void out_idle(struct output *o)
{
	struct pollfd pfd = {.fd = o->fd};

	if ((o->kind == SINK_TCP || o->kind == SINK_UNIX) && o->fd >= 0) {
		if (o->state == SOCK_CONNECTING || o->blocked)
			pfd.events |= POLLOUT;
		if (o->state == SOCK_UP && !o->going_away)
			pfd.events |= POLLIN | POLLRDHUP;
		poll(&pfd, 1, 1);
		return;
	}
	sleep_ns(OUT_IDLE_NS);
}

static void *output_main(void *arg)
{
	struct output *o = arg;
	bool sock = o->kind == SINK_TCP || o->kind == SINK_UNIX;
	uint64_t drain_deadline_ns = 0;

	for (;;) {
		bool stopping = __atomic_load_n(&o->stopping, __ATOMIC_ACQUIRE);
		uint64_t now = now_ns();
		bool progress = batches_collect(o) > 0;

		if (sock)
			progress |= sock_step(o, now);
		else
			progress |= fd_step(o, now, stopping);
		if (stopping) {
			/* stopping was read before the collect above: that pass saw every batch. */
			if (o->pend_count == 0 && (!sock || spool_empty(o->spool)))
				break;
			if (sock && !drain_deadline_ns)
				drain_deadline_ns = now + o->drain_ns;
			if (sock && now >= drain_deadline_ns)
				break;
		}
		if (!progress)
			out_idle(o);
	}
	if (sock) {
		/* Whatever the peer did not get waits in the spool for the next run. */
		sock_teardown(o, now_ns());
		o->state = SOCK_DOWN;
		spool_route(o);
		spool_sync_counters(o);
	}
	return NULL;
}

/* ---- open and close ---------------------------------------------------------------- */

static int sink_parse_tcp(struct output *o, const char *hostport, char *err, size_t err_len)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	char host[CONFIG_STR_MAX];
	const char *port, *colon;
	size_t host_len;
	int ret;

	if (hostport[0] == '[') {
		const char *close_br = strchr(hostport, ']');

		if (!close_br || close_br[1] != ':')
			goto bad;
		host_len = (size_t)(close_br - hostport - 1);
		memcpy(host, hostport + 1, host_len);
		port = close_br + 2;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon || memchr(hostport, ':', (size_t)(colon - hostport)))
			goto bad;
		host_len = (size_t)(colon - hostport);
		memcpy(host, hostport, host_len);
		port = colon + 1;
	}
	host[host_len] = '\0';
	if (host_len == 0 || !*port)
		goto bad;
	ret = getaddrinfo(host, port, &hints, &o->addrs);
	if (ret != 0) {
		snprintf(err, err_len, "output 'tcp:%s': cannot resolve: %s", hostport,
			 gai_strerror(ret));
		return -EHOSTUNREACH;
	}
	o->addr_next = o->addrs;
	return 0;
bad:
	snprintf(err, err_len, "output 'tcp:%s': expected tcp:HOST:PORT (IPv6 as tcp:[ADDR]:PORT)",
		 hostport);
	return -EINVAL;
}

static int sink_parse_unix(struct output *o, const char *path, char *err, size_t err_len)
{
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(o->sun.sun_path)) {
		snprintf(err, err_len, "output 'unix:%s': expected a path of 1 to %zu bytes", path,
			 sizeof(o->sun.sun_path) - 1);
		return -EINVAL;
	}
	o->sun.sun_family = AF_UNIX;
	memcpy(o->sun.sun_path, path, len);
	/* "@name": Linux abstract namespace, no file; the name is the bytes after the NUL. */
	if (path[0] == '@')
		o->sun.sun_path[0] = '\0';
	o->sun_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				 (path[0] == '@' ? 0 : 1));
	return 0;
}

static int sink_open(struct output *o, const struct config *cfg, char *err, size_t err_len)
{
	const char *s = cfg->output;
	int ret;

	if (strcmp(s, "stdout") == 0) {
		o->kind = SINK_STDOUT;
		o->fd = STDOUT_FILENO;
		return 0;
	}
	if (strncmp(s, "file:", 5) == 0 && s[5]) {
		o->kind = SINK_FILE;
		snprintf(o->path, sizeof(o->path), "%s", s + 5);
		o->fd = open(o->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (o->fd < 0) {
			ret = -errno;
			snprintf(err, err_len, "output '%s': cannot open: %s", s, strerror(-ret));
			return ret;
		}
		return 0;
	}
	if (strncmp(s, "tcp:", 4) == 0) {
		o->kind = SINK_TCP;
		ret = sink_parse_tcp(o, s + 4, err, err_len);
	} else if (strncmp(s, "unix:", 5) == 0) {
		o->kind = SINK_UNIX;
		ret = sink_parse_unix(o, s + 5, err, err_len);
	} else {
		snprintf(err, err_len,
			 "output '%s': expected stdout, file:PATH, tcp:HOST:PORT or unix:PATH", s);
		return -EINVAL;
	}
	if (ret)
		return ret;
	if (!cfg->spool_dir[0]) {
		snprintf(err, err_len, "output '%s': a socket sink needs spool_dir", s);
		return -EINVAL;
	}
	ret = spool_open(&o->spool, cfg->spool_dir, cfg->spool_bytes, cfg->batch_bytes, err,
			 err_len);
	if (ret)
		return ret;
	o->state = SOCK_DOWN;
	o->backoff_ns = OUT_BACKOFF_MIN_NS;
	spool_sync_counters(o);
	return 0;
}

static int producers_alloc(struct output *o, uint32_t batch_bytes)
{
	uint32_t slots = 2;

	/* ck_ring holds slots - 1 entries. */
	while (slots < o->batches + 1)
		slots <<= 1;
	o->prod = calloc(o->producers, sizeof(*o->prod));
	if (!o->prod)
		return -ENOMEM;
	for (uint32_t i = 0; i < o->producers; i++) {
		struct out_producer *p = &o->prod[i];

		p->submit_slots = calloc(slots, sizeof(*p->submit_slots));
		p->free_slots = calloc(slots, sizeof(*p->free_slots));
		p->batches = calloc(o->batches, sizeof(*p->batches));
		p->data = malloc((size_t)o->batches * batch_bytes);
		if (!p->submit_slots || !p->free_slots || !p->batches || !p->data)
			return -ENOMEM;
		ck_ring_init(&p->submit, slots);
		ck_ring_init(&p->free, slots);
		for (uint32_t j = 0; j < o->batches; j++) {
			struct out_batch *b = &p->batches[j];

			b->data = p->data + (size_t)j * batch_bytes;
			b->cap = batch_bytes;
			b->producer = i;
			ck_ring_enqueue_spsc(&p->free, p->free_slots, b);
		}
	}
	return 0;
}

static void output_free(struct output *o)
{
	if (o->prod) {
		for (uint32_t i = 0; i < o->producers; i++) {
			free(o->prod[i].submit_slots);
			free(o->prod[i].free_slots);
			free(o->prod[i].batches);
			free(o->prod[i].data);
		}
		free(o->prod);
	}
	if (o->fd >= 0 && o->kind != SINK_STDOUT)
		close(o->fd);
	spool_close(o->spool);
	if (o->addrs)
		freeaddrinfo(o->addrs);
	if (o->ring_ready)
		io_uring_queue_exit(&o->ring);
	free(o->pending);
	free(o);
}

int output_open(struct output **out, const struct config *cfg, uint32_t producers, char *err,
		size_t err_len)
{
	struct output *o;
	int ret;

	*out = NULL;
	if (producers == 0 || cfg->batches == 0 || cfg->batch_bytes == 0) {
		snprintf(err, err_len,
			 "output: need producers, batches and batch_bytes > 0 "
			 "(got %u, %u, %u)",
			 producers, cfg->batches, cfg->batch_bytes);
		return -EINVAL;
	}
	pthread_once(&out_counters_once, out_counters_register);
	o = calloc(1, sizeof(*o));
	if (!o)
		goto nomem;
	o->fd = -1;
	o->producers = producers;
	o->batches = cfg->batches;
	o->drain_ns = (uint64_t)cfg->flush_ms * 50 * OUT_MS;
	o->pend_cap = producers * cfg->batches;
	o->pending = calloc(o->pend_cap, sizeof(*o->pending));
	if (!o->pending || producers_alloc(o, cfg->batch_bytes) < 0)
		goto nomem;
	ret = io_uring_queue_init(8, &o->ring, 0);
	if (ret < 0) {
		snprintf(err, err_len, "output: io_uring_queue_init: %s", strerror(-ret));
		goto free_output;
	}
	o->ring_ready = true;
	ret = sink_open(o, cfg, err, err_len);
	if (ret)
		goto free_output;
	*out = o;
	return 0;

nomem:
	snprintf(err, err_len, "output: out of memory for %u x %u batches of %u bytes", producers,
		 cfg->batches, cfg->batch_bytes);
	ret = -ENOMEM;
free_output:
	if (o)
		output_free(o);
	return ret;
}

int output_start(struct output *o)
{
	int ret = pthread_create(&o->thread, NULL, output_main, o);

	if (ret)
		return -ret;
	o->started = true;
	return 0;
}

struct out_batch *output_batch_get(struct output *o, uint32_t producer)
{
	struct out_producer *p = &o->prod[producer];
	struct out_batch *b;
	void *v;

	if (!ck_ring_dequeue_spsc(&p->free, p->free_slots, &v))
		return NULL;
	b = v;
	b->len = 0;
	b->records = 0;
	b->first_ns = 0;
	return b;
}

struct out_batch *output_wait_batch(struct output *o, uint32_t producer)
{
	struct out_batch *b;

	while (!(b = output_batch_get(o, producer)))
		sleep_ns(OUT_WAIT_BATCH_NS);
	return b;
}

void output_batch_submit(struct output *o, struct out_batch *b)
{
	struct out_producer *p = &o->prod[b->producer];

	/* Cannot fail: the ring holds every batch the producer has. If it does, a batch was
	 * submitted twice, and going on would write records twice or lose them. */
	if (!ck_ring_enqueue_spsc(&p->submit, p->submit_slots, b))
		abort();
}

void output_request_reopen(struct output *o)
{
	__atomic_store_n(&o->reopen, 1, __ATOMIC_RELAXED);
}

void output_close(struct output *o)
{
	if (!o)
		return;
	__atomic_store_n(&o->stopping, 1, __ATOMIC_RELEASE);
	if (o->started)
		pthread_join(o->thread, NULL);
	else
		output_main(o); /* never started: drain here so submitted batches still leave */
	output_free(o);
}
