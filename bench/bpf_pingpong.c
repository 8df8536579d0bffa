/*
 * The traced application's side of the eBPF capture cost: loopback TCP traffic whose
 * syscalls are timed, run by bench/bpf_bench.sh with and without wirewatch attached.
 *
 *   bpf_pingpong pingpong SIZE ITERS   a client and a forked server: write SIZE, read SIZE
 *                                      back, ITERS round trips; each traced syscall is on
 *                                      the critical path, so the added time per round trip
 *                                      divided by the syscalls in it is the added cost of one.
 *                                      Both on one CPU ($PP_CPU, default 0): across two CPUs a
 *                                      round trip is mostly the wakeup of an idle CPU, tens
 *                                      of microseconds in a VM, and less while wirewatch keeps
 *                                      the CPUs busy, which would make tracing look free
 *   bpf_pingpong self SIZE ITERS       one process, both ends of one connection: write and
 *                                      read each way with no wakeup between, so the figure is
 *                                      the syscalls alone
 *   bpf_pingpong load SIZE SECONDS     as self, for a time: the event rate one process makes
 *
 * Prints one line of key=value figures. Never asserts a timing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PP_MAX_SIZE (1u << 20)

static uint64_t pp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pp_die(const char *what)
{
	fprintf(stderr, "bpf_pingpong: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Reads exactly len bytes; returns the read() calls it took (0 at end of stream). */
static uint64_t pp_read_full(int fd, uint8_t *buf, size_t len)
{
	uint64_t calls = 0;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		calls++;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			pp_die("read");
		if (n == 0)
			return 0;
		got += (size_t)n;
	}
	return calls;
}

static uint64_t pp_write_full(int fd, const uint8_t *buf, size_t len)
{
	uint64_t calls = 0;
	size_t put = 0;

	while (put < len) {
		ssize_t n = write(fd, buf + put, len - put);

		calls++;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			pp_die("write");
		put += (size_t)n;
	}
	return calls;
}

/* A connected pair over 127.0.0.1 (an ephemeral listening port); *lfd is closed. */
static void pp_pair(int *cfd, int *sfd)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
		pp_die("listen");
	*cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (*cfd < 0 || connect(*cfd, (struct sockaddr *)&a, sizeof(a)) < 0)
		pp_die("connect");
	*sfd = accept(lfd, NULL, NULL);
	if (*sfd < 0)
		pp_die("accept");
	/* small messages go out at once: the round trip measures syscalls, not Nagle */
	setsockopt(*cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(lfd);
}

static int pp_pingpong(size_t size, uint64_t iters)
{
	uint8_t *buf = calloc(1, size);
	uint64_t calls = 0, server_calls = 0, t0, t1;
	const char *cpu_env = getenv("PP_CPU");
	int cpu = cpu_env ? atoi(cpu_env) : 0;
	int cfd, sfd, report[2];
	cpu_set_t cpus;
	pid_t pid;

	if (!buf || pipe(report) < 0)
		pp_die("setup");
	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus) < 0) /* the server inherits it */
		pp_die("sched_setaffinity");
	pp_pair(&cfd, &sfd);
	pid = fork();
	if (pid < 0)
		pp_die("fork");
	if (pid == 0) { /* server: echo until the client closes */
		uint64_t n, c = 0;

		close(cfd);
		while ((n = pp_read_full(sfd, buf, size)) > 0)
			c += n + pp_write_full(sfd, buf, size);
		if (write(report[1], &c, sizeof(c)) != sizeof(c))
			_exit(1);
		_exit(0);
	}
	close(sfd);
	/* warm up: connection state made in the kernel, caches and the scheduler settled */
	for (uint64_t i = 0; i < iters / 10 + 1; i++) {
		pp_write_full(cfd, buf, size);
		pp_read_full(cfd, buf, size);
	}
	t0 = pp_now_ns();
	for (uint64_t i = 0; i < iters; i++) {
		calls += pp_write_full(cfd, buf, size);
		calls += pp_read_full(cfd, buf, size);
	}
	t1 = pp_now_ns();
	shutdown(cfd, SHUT_WR);
	if (read(report[0], &server_calls, sizeof(server_calls)) != sizeof(server_calls))
		pp_die("server report");
	waitpid(pid, NULL, 0);
	close(cfd);
	/* the server's count includes the warm-up: scale it to the timed part */
	server_calls = server_calls * iters / (iters + iters / 10 + 1);
	printf("mode=pingpong cpu=%d size=%zu iters=%llu ns_per_rt=%.1f syscalls_per_rt=%.2f "
	       "ns_per_syscall=%.1f\n",
	       cpu, size, (unsigned long long)iters, (double)(t1 - t0) / (double)iters,
	       (double)(calls + server_calls) / (double)iters,
	       (double)(t1 - t0) / (double)(calls + server_calls));
	free(buf);
	return 0;
}

/* One process, both ends: returns the syscalls made in [now, deadline) or for iters. */
static int pp_self(size_t size, uint64_t iters, double seconds)
{
	uint8_t *buf = calloc(1, size);
	uint64_t calls = 0, i = 0, t0, t1, deadline;
	int cfd, sfd;

	if (!buf)
		pp_die("calloc");
	pp_pair(&cfd, &sfd);
	t0 = pp_now_ns();
	deadline = seconds > 0 ? t0 + (uint64_t)(seconds * 1e9) : UINT64_MAX;
	for (;;) {
		calls += pp_write_full(cfd, buf, size);
		calls += pp_read_full(sfd, buf, size);
		calls += pp_write_full(sfd, buf, size);
		calls += pp_read_full(cfd, buf, size);
		i++;
		if (seconds > 0 ? (i % 256 == 0 && pp_now_ns() >= deadline) : i >= iters)
			break;
	}
	t1 = pp_now_ns();
	printf("mode=%s size=%zu iters=%llu syscalls=%llu seconds=%.3f ns_per_syscall=%.1f "
	       "syscalls_per_s=%.0f\n",
	       seconds > 0 ? "load" : "self", size, (unsigned long long)i,
	       (unsigned long long)calls, (double)(t1 - t0) / 1e9,
	       (double)(t1 - t0) / (double)calls, (double)calls * 1e9 / (double)(t1 - t0));
	close(cfd);
	close(sfd);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long size;
	double n;

	if (argc != 4) {
		fprintf(stderr, "usage: bpf_pingpong pingpong|self SIZE ITERS\n"
				"       bpf_pingpong load SIZE SECONDS\n");
		return 2;
	}
	size = strtoull(argv[2], NULL, 10);
	n = strtod(argv[3], NULL);
	if (size == 0 || size > PP_MAX_SIZE || n <= 0) {
		fprintf(stderr, "bpf_pingpong: SIZE 1..%u and a positive count expected\n",
			PP_MAX_SIZE);
		return 2;
	}
	if (strcmp(argv[1], "pingpong") == 0)
		return pp_pingpong(size, (uint64_t)n);
	if (strcmp(argv[1], "self") == 0)
		return pp_self(size, (uint64_t)n, 0);
	if (strcmp(argv[1], "load") == 0)
		return pp_self(size, 0, n);
	fprintf(stderr, "bpf_pingpong: unknown mode '%s'\n", argv[1]);
	return 2;
}
