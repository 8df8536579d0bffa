/*
 * The eBPF source (--source bpf): loads capture.bpf.c, attaches it to the socket syscall
 * tracepoints, and turns the events of the per-CPU ring buffers into chunks.
 *
 * Loader flow (libbpf-tools shape): open the skeleton, set the const volatile globals and the
 * map sizes, load, create one ring buffer per possible CPU and put it in the `rings` outer
 * map, seed `listen_ports` from /proc, attach every program. Each reader thread owns the
 * rings of the CPUs cpu % readers == index, one libbpf `ring_buffer` per ring (libbpf 1.1 has
 * no per-ring consume), and waits on its own epoll set of those ring fds with a short
 * timeout: the kernel only wakes it past wakeup_bytes, so after every wait it drains all its
 * rings, copies each sample into a pooled chunk and flushes once per round.
 *
 * Buffer hand-off: a ring sample is borrowed during capture_sample(); its bytes are copied
 * into a chunk the reader owns, and reader_emit() passes the chunk on.
 *
 * Processes: fork/exec/exit events come through their own ring (`proc_events`, one for all
 * CPUs) to one thread, ww-proc, the single writer of the process table (proc_table.h). It is
 * filled from /proc after the programs are attached, so a process that starts meanwhile is
 * in the scan, in the ring, or both (the ring's events are applied after the scan and give
 * the same result). The thread also expires exited processes and notices lost exits.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/capture.skel.h"
#include "capture.h"
#include "counters.h"
#include "events.h"
#include "proc_table.h"
#include "source.h"

#define CAPTURE_POLL_MS	       20	  /* longest a NO_WAKEUP event waits in a ring */
#define CAPTURE_REFRESH_NS     500000000u /* drop counters copied from the kernel this often */
#define CAPTURE_VERIFIER_TAIL  40	  /* lines of a verifier log worth showing */
#define CAPTURE_PROC_POLL_MS   100	  /* process events wake the thread; this bounds expiry */
#define CAPTURE_PROC_EXPIRE_NS 1000000000ull  /* exited processes looked at this often */
#define CAPTURE_PROC_REAP_NS   10000000000ull /* live ones checked for a lost exit this often */

/* One possible CPU's ring. Owner: the reader thread cpu % readers, from run() on. */
struct capture_cpu {
	struct capture_reader *owner;
	struct ring_buffer *rb;
	int ring_fd;
	uint32_t cpu;
	char label[12];
	uint64_t drops[WW_DROP_NR]; /* registered counter block {cpu="N"}, written by owner */
};

struct capture_reader {
	struct capture *cap;
	struct reader *rd;
	uint32_t index;
	uint32_t chunk_cap;
	int epfd;
	int64_t realtime_off_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC (capture_realtime_offset) */
	uint64_t next_refresh_ns;
	uint64_t *percpu; /* lookup buffer for the per-CPU drops map */
};

struct capture {
	struct capture_bpf *skel;
	struct bpf_link **links;
	uint32_t nlinks;
	uint32_t ncpus; /* possible CPUs: bpf_get_smp_processor_id() is below this */
	uint32_t nreaders;
	struct capture_cpu *cpus;
	struct capture_reader *readers;
	bool wait_for_pool; /* queue_full = wait: a full pool stalls the reader, the ring absorbs */
	/* the process table's writer: ww-proc owns proc_rb and the table from its start on */
	struct ring_buffer *proc_rb;
	pthread_t proc_thread;
	bool proc_running;
	bool proc_stop; /* written by capture_close (relaxed), read by ww-proc */
};

/* --pid, set by main before the source opens (bpf_source_set_pid_filter). */
static uint32_t capture_filter_pid;

void bpf_source_set_pid_filter(uint32_t pid)
{
	capture_filter_pid = pid;
}

static const struct counter_def capture_drop_defs[WW_DROP_NR] = {
	[WW_DROP_RING_FULL] = {"bpf_ring_full_drops_total",
			       "Events lost because this CPU's BPF ring buffer was full"},
	[WW_DROP_READ_FAIL] = {"bpf_payload_read_failures_total",
			       "Payloads that could not be read from user memory (sent as gaps)"},
	[WW_DROP_CONN_FULL] = {"bpf_conn_map_full_total",
			       "Sockets not followed because the kernel connection map was full"},
	[WW_DROP_ARGS_FULL] =
		{"bpf_args_map_full_total",
		 "Socket syscalls missed because the in-flight argument map was full"},
	[WW_DROP_NO_RING] = {"bpf_no_ring_total", "Events with no ring buffer for their CPU"},
	[WW_DROP_IOV_CUT] = {"bpf_iov_cut_total",
			     "Syscalls with more iovecs or messages than one event reads"},
	[WW_DROP_TLS_NO_FD] = {"bpf_tls_no_fd_total",
			       "TLS cleartext dropped: its socket was not known yet"},
	[WW_DROP_SCRATCH_BUSY] = {"bpf_scratch_busy_total",
				  "TLS events dropped: the CPU's uprobe assembly area was in use"},
	[WW_DROP_PROC_RING_FULL] = {"bpf_proc_ring_full_total",
				    "Process events lost: the process ring was full"},
	[WW_DROP_IO_URING] = {"bpf_io_uring_enter_total",
			      "io_uring_enter calls by traced processes: socket I/O submitted "
			      "through io_uring is not captured (counted so it is never silent)"},
};

/* Which kernel drops are lost events (the others are partial captures, still reported). */
static const bool capture_drop_is_loss[WW_DROP_NR] = {
	[WW_DROP_RING_FULL] = true, [WW_DROP_CONN_FULL] = true, [WW_DROP_ARGS_FULL] = true,
	[WW_DROP_NO_RING] = true,   [WW_DROP_TLS_NO_FD] = true, [WW_DROP_SCRATCH_BUSY] = true,
};

static uint64_t capture_now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * libbpf messages: warnings only. A failed load prints the whole verifier log; only its tail
 * (where the verifier says what it rejected) is worth a person's screen.
 */
static int capture_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	const char *begin, *tail;
	int lines = 0, n, ret;
	va_list ap2;
	char *buf;

	if (level != LIBBPF_WARN)
		return 0;
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (!buf)
		return vfprintf(stderr, fmt, ap);
	vsnprintf(buf, (size_t)n + 1, fmt, ap);
	begin = strstr(buf, "-- BEGIN PROG LOAD LOG --");
	if (!begin) {
		ret = fprintf(stderr, "wirewatch: %s", buf); /* libbpf says "libbpf: " itself */
		free(buf);
		return ret;
	}
	tail = buf + n;
	while (tail > begin && lines <= CAPTURE_VERIFIER_TAIL)
		if (*--tail == '\n')
			lines++;
	if (tail > begin)
		tail++; /* past the newline that ended the count */
	ret = fprintf(stderr, "wirewatch: verifier log (last %d lines):\n%s", CAPTURE_VERIFIER_TAIL,
		      tail);
	free(buf);
	return ret;
}

/* libbpf resolves tracepoint ids through tracefs, which is not always mounted. */
static int capture_mount_tracefs(char *err, size_t err_len)
{
	if (access("/sys/kernel/tracing/events", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return 0;
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0) {
		int e = errno;

		snprintf(err, err_len,
			 "bpf: tracefs is not mounted and mounting it at /sys/kernel/tracing "
			 "failed: "
			 "%s (run as root, or mount -t tracefs tracefs /sys/kernel/tracing)",
			 strerror(e));
		return -e;
	}
	return 0;
}

/* TCP ports already listening (IPv4 and IPv6), so first-seen connections get their role. */
static void capture_seed_listen_ports(struct capture *cap)
{
	static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	int fd = bpf_map__fd(cap->skel->maps.listen_ports);
	uint8_t one = 1;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f = fopen(files[i], "r");
		char line[512];

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char local[64];
			unsigned int port, state;
			uint16_t p;

			/* "  0: 0100007F:1F90 00000000:0000 0A ..." ; 0A = TCP_LISTEN */
			if (sscanf(line, " %*u: %63[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", local,
				   &port, &state) != 3 ||
			    state != 0x0A)
				continue;
			p = (uint16_t)port;
			bpf_map_update_elem(fd, &p, &one, BPF_ANY);
		}
		fclose(f);
	}
}

/* The ports the kernel hands to clients: a first-seen socket on one of them is a client. */
static void capture_ephemeral_ports(struct capture *cap)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned int lo, hi;

	if (!f)
		return; /* keep the kernel's defaults compiled in */
	if (fscanf(f, "%u %u", &lo, &hi) == 2 && lo <= hi && hi <= 65535) {
		cap->skel->rodata->ephemeral_lo = (uint16_t)lo;
		cap->skel->rodata->ephemeral_hi = (uint16_t)hi;
	}
	fclose(f);
}

/*
 * One ring buffer per possible CPU, made before load: the first one also serves as the inner
 * map template of `rings` (libbpf 1.1 cannot resize the template it builds itself: its
 * bpf_map__set_max_entries() on the inner map dereferences a NULL object).
 */
static int capture_make_rings(struct capture *cap, uint32_t ring_bytes, char *err, size_t err_len)
{
	for (uint32_t cpu = 0; cpu < cap->ncpus; cpu++) {
		int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ww_ring", 0, 0, ring_bytes, NULL);

		if (fd < 0) {
			int e = errno;

			snprintf(err, err_len,
				 "bpf: creating the %u-byte ring buffer of CPU %u: %s", ring_bytes,
				 cpu, strerror(e));
			return -e;
		}
		cap->cpus[cpu].ring_fd = fd;
	}
	return bpf_map__set_inner_map_fd(cap->skel->maps.rings, cap->cpus[0].ring_fd);
}

/* After load: each CPU's program finds its ring at rings[cpu]. */
static int capture_fill_rings(struct capture *cap, char *err, size_t err_len)
{
	int outer = bpf_map__fd(cap->skel->maps.rings);

	for (uint32_t cpu = 0; cpu < cap->ncpus; cpu++) {
		if (bpf_map_update_elem(outer, &cpu, &cap->cpus[cpu].ring_fd, BPF_ANY) < 0) {
			int e = errno;

			snprintf(err, err_len, "bpf: inserting the ring of CPU %u in 'rings': %s",
				 cpu, strerror(e));
			return -e;
		}
	}
	return 0;
}

static bool capture_is_uprobe(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	return strncmp(sec, "uprobe", 6) == 0 || strncmp(sec, "uretprobe", 9) == 0;
}

static int capture_link_add(struct capture *cap, struct bpf_link *link)
{
	struct bpf_link **links = realloc(cap->links, (cap->nlinks + 1) * sizeof(*links));

	if (!links) {
		bpf_link__destroy(link);
		return -ENOMEM;
	}
	cap->links = links;
	cap->links[cap->nlinks++] = link;
	return 0;
}

/* Every tracepoint program; the uprobes are attached per library by capture_attach_tls(). */
static int capture_attach(struct capture *cap, char *err, size_t err_len)
{
	struct bpf_program *prog;
	int ret;

	bpf_object__for_each_program(prog, cap->skel->obj)
	{
		struct bpf_link *link;

		if (capture_is_uprobe(prog))
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			int e = errno;

			snprintf(err, err_len, "bpf: attaching %s to %s failed: %s",
				 bpf_program__name(prog), bpf_program__section_name(prog),
				 strerror(e));
			return -e;
		}
		ret = capture_link_add(cap, link);
		if (ret < 0)
			return ret;
	}
	return 0;
}

#define CAPTURE_LIBSSL_MAX 32

struct capture_libssl {
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
};

/* Adds path unless the same file (device and inode: symlinks, /proc/PID/root) is there. */
static void capture_libssl_add(struct capture_libssl *libs, uint32_t *n, const char *path)
{
	struct stat st;

	if (*n == CAPTURE_LIBSSL_MAX || stat(path, &st) < 0)
		return;
	for (uint32_t i = 0; i < *n; i++)
		if (libs[i].dev == st.st_dev && libs[i].ino == st.st_ino)
			return;
	snprintf(libs[*n].path, sizeof(libs[*n].path), "%s", path);
	libs[*n].dev = st.st_dev;
	libs[*n].ino = st.st_ino;
	(*n)++;
}

/*
 * The libssl files in use: the system's, and every one mapped by a running process (seen
 * through /proc/PID/root, so a container's own libssl counts). A uprobe is set on the file,
 * so processes that load it later are covered too.
 */
static uint32_t capture_find_libssl(struct capture_libssl *libs)
{
	static const char *const system_libs[] = {
		"/usr/lib/x86_64-linux-gnu/libssl.so.3",
		"/usr/lib/x86_64-linux-gnu/libssl.so.1.1",
		"/usr/lib64/libssl.so.3",
		"/usr/lib64/libssl.so.1.1",
		"/usr/lib/libssl.so.3",
		"/usr/lib/libssl.so.1.1",
	};
	uint32_t n = 0;
	struct dirent *de;
	DIR *proc;

	for (size_t i = 0; i < sizeof(system_libs) / sizeof(system_libs[0]); i++)
		capture_libssl_add(libs, &n, system_libs[i]);
	proc = opendir("/proc");
	if (!proc)
		return n;
	while ((de = readdir(proc))) {
		char maps[300], line[PATH_MAX + 128], path[PATH_MAX + 300];
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(maps, sizeof(maps), "/proc/%s/maps", de->d_name);
		f = fopen(maps, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *p = strchr(line, '/');

			if (!p || !strstr(p, "/libssl.so"))
				continue;
			p[strcspn(p, "\n")] = '\0';
			snprintf(path, sizeof(path), "/proc/%s/root%s", de->d_name, p);
			capture_libssl_add(libs, &n, path);
		}
		fclose(f);
	}
	closedir(proc);
	return n;
}

/*
 * TLS cleartext: the SSL_* uprobes on every libssl found. Optional: a library or symbol that
 * cannot be probed is reported and skipped, the capture goes on without its cleartext.
 */
static void capture_attach_tls(struct capture *cap)
{
	static const struct {
		const char *prog, *func;
		bool ret;
	} probes[] = {
		{"ssl_read_enter", "SSL_read", false},
		{"ssl_read_exit", "SSL_read", true},
		{"ssl_write_enter", "SSL_write", false},
		{"ssl_write_exit", "SSL_write", true},
		{"ssl_read_ex_enter", "SSL_read_ex", false},
		{"ssl_read_ex_exit", "SSL_read_ex", true},
		{"ssl_write_ex_enter", "SSL_write_ex", false},
		{"ssl_write_ex_exit", "SSL_write_ex", true},
		{"ssl_handshake_enter", "SSL_do_handshake", false},
		{"ssl_handshake_exit", "SSL_do_handshake", true},
	};
	struct capture_libssl *libs = calloc(CAPTURE_LIBSSL_MAX, sizeof(*libs));
	uint32_t n;

	if (!libs)
		return;
	n = capture_find_libssl(libs);
	for (uint32_t i = 0; i < n; i++) {
		for (size_t j = 0; j < sizeof(probes) / sizeof(probes[0]); j++) {
			LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = probes[j].func,
				    .retprobe = probes[j].ret);
			struct bpf_program *prog =
				bpf_object__find_program_by_name(cap->skel->obj, probes[j].prog);
			struct bpf_link *link;

			link = prog ? bpf_program__attach_uprobe_opts(prog, -1, libs[i].path, 0,
								      &opts)
				    : NULL;
			if (!link) {
				fprintf(stderr,
					"wirewatch: bpf: no TLS cleartext from %s: uprobe on %s: "
					"%s\n",
					libs[i].path, probes[j].func, strerror(errno));
				continue;
			}
			capture_link_add(cap, link);
		}
	}
	free(libs);
}

/* ---- the process table's writer thread ---- */

/* Ring-buffer callback of ww-proc: the sample is borrowed until we return. */
static int capture_proc_sample(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size >= sizeof(struct ww_proc_event))
		proc_table_apply(data);
	return 0;
}

static void *capture_proc_main(void *arg)
{
	struct capture *cap = arg;
	uint64_t next_expire = 0, next_reap = 0;

	while (!__atomic_load_n(&cap->proc_stop, __ATOMIC_RELAXED)) {
		uint64_t now;
		int n = ring_buffer__poll(cap->proc_rb, CAPTURE_PROC_POLL_MS);

		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "wirewatch: bpf: polling the process ring: %s\n",
				strerror(-n));
			break;
		}
		now = capture_now_ns(CLOCK_MONOTONIC);
		if (now >= next_expire) {
			proc_table_expire(capture_now_ns(CLOCK_REALTIME));
			next_expire = now + CAPTURE_PROC_EXPIRE_NS;
		}
		if (now >= next_reap) {
			if (next_reap)
				proc_table_reap_lost(capture_now_ns(CLOCK_REALTIME));
			next_reap = now + CAPTURE_PROC_REAP_NS;
		}
	}
	ring_buffer__consume(cap->proc_rb); /* what came before the programs were detached */
	return NULL;
}

/*
 * The process table: made and filled from /proc here (the programs are attached, their
 * events wait in the ring), then handed to ww-proc. Optional: without it records carry only
 * the pid and comm of the events, so a failure is reported and the capture goes on.
 */
static void capture_proc_start(struct capture *cap)
{
	int ret = proc_table_init("/proc", 0);
	sigset_t all, old;

	if (ret < 0) {
		fprintf(stderr, "wirewatch: bpf: no process table: %s\n", strerror(-ret));
		return;
	}
	ret = proc_table_scan();
	if (ret < 0)
		fprintf(stderr, "wirewatch: bpf: reading /proc: %s\n", strerror(-ret));
	cap->proc_rb = ring_buffer__new(bpf_map__fd(cap->skel->maps.proc_events),
					capture_proc_sample, cap, NULL);
	if (!cap->proc_rb) {
		fprintf(stderr, "wirewatch: bpf: process events: ring_buffer__new: %s\n",
			strerror(errno));
		return; /* the table keeps what /proc said */
	}
	/*
	 * No signal for ww-proc: the runtime takes SIGINT/SIGTERM in the main thread with
	 * sigtimedwait, and a process-directed signal goes to any thread that does not block
	 * it (killing the process, or lost where it is ignored).
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&cap->proc_thread, NULL, capture_proc_main, cap);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		fprintf(stderr, "wirewatch: bpf: starting the process thread: %s\n", strerror(ret));
		return;
	}
	pthread_setname_np(cap->proc_thread, "ww-proc");
	cap->proc_running = true;
}

/*
 * After the programs are detached: ww-proc drains and stops, the table is written to
 * $WIREWATCH_PROC_DUMP when set (tests, debugging), then freed. The workers are gone by
 * now (runtime_destroy closes the source last), so no reader is inside a section.
 */
static void capture_proc_stop(struct capture *cap)
{
	const char *dump = getenv("WIREWATCH_PROC_DUMP");

	if (cap->proc_running) {
		__atomic_store_n(&cap->proc_stop, true, __ATOMIC_RELAXED);
		pthread_join(cap->proc_thread, NULL);
		cap->proc_running = false;
	}
	if (dump && *dump) {
		FILE *f = fopen(dump, "w");

		if (!f || proc_table_dump(f) < 0)
			fprintf(stderr, "wirewatch: bpf: writing the process table to %s: %s\n",
				dump, strerror(errno));
		if (f)
			fclose(f);
	}
	ring_buffer__free(cap->proc_rb);
	cap->proc_rb = NULL;
	proc_table_destroy();
}

static int capture_sample(void *ctx, void *data, size_t size);

static int capture_make_readers(struct capture *cap, char *err, size_t err_len)
{
	cap->readers = calloc(cap->nreaders, sizeof(*cap->readers));
	if (!cap->readers)
		return -ENOMEM;
	for (uint32_t i = 0; i < cap->nreaders; i++)
		cap->readers[i].epfd = -1;
	for (uint32_t i = 0; i < cap->nreaders; i++) {
		struct capture_reader *r = &cap->readers[i];

		r->cap = cap;
		r->index = i;
		r->percpu = calloc(cap->ncpus, sizeof(uint64_t));
		if (!r->percpu)
			return -ENOMEM;
		r->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (r->epfd < 0) {
			int e = errno;

			snprintf(err, err_len, "bpf: epoll_create1: %s", strerror(e));
			return -e;
		}
	}
	for (uint32_t cpu = 0; cpu < cap->ncpus; cpu++) {
		struct capture_cpu *cc = &cap->cpus[cpu];
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = cpu};
		int e;

		cc->owner = &cap->readers[cpu % cap->nreaders];
		cc->rb = ring_buffer__new(cc->ring_fd, capture_sample, cc, NULL);
		if (!cc->rb) {
			e = errno;
			snprintf(err, err_len, "bpf: ring_buffer__new for CPU %u: %s", cpu,
				 strerror(e));
			return -e;
		}
		/* the ring's map fd polls readable when the kernel woke it (past wakeup_bytes) */
		if (epoll_ctl(cc->owner->epfd, EPOLL_CTL_ADD, cc->ring_fd, &ev) < 0) {
			e = errno;
			snprintf(err, err_len, "bpf: epoll_ctl on the ring of CPU %u: %s", cpu,
				 strerror(e));
			return -e;
		}
		snprintf(cc->label, sizeof(cc->label), "%u", cpu);
		e = counters_register("cpu", cc->label, capture_drop_defs, WW_DROP_NR, cc->drops);
		if (e < 0) {
			snprintf(err, err_len, "bpf: registering the drop counters of CPU %u: %s",
				 cpu, strerror(-e));
			return e;
		}
	}
	return 0;
}

static void capture_detach(struct capture *cap)
{
	for (uint32_t i = 0; cap->links && i < cap->nlinks; i++)
		bpf_link__destroy(cap->links[i]);
	free(cap->links);
	cap->links = NULL;
	cap->nlinks = 0;
}

static void capture_free_readers(struct capture *cap)
{
	for (uint32_t cpu = 0; cpu < cap->ncpus; cpu++) {
		ring_buffer__free(cap->cpus[cpu].rb);
		cap->cpus[cpu].rb = NULL;
	}
	for (uint32_t i = 0; cap->readers && i < cap->nreaders; i++) {
		if (cap->readers[i].epfd >= 0)
			close(cap->readers[i].epfd);
		free(cap->readers[i].percpu);
	}
	free(cap->readers);
	cap->readers = NULL;
}

static void capture_close_rings(struct capture *cap)
{
	for (uint32_t cpu = 0; cpu < cap->ncpus; cpu++) {
		if (cap->cpus[cpu].ring_fd >= 0)
			close(cap->cpus[cpu].ring_fd);
		cap->cpus[cpu].ring_fd = -1;
	}
}

static void capture_free(struct capture *cap)
{
	free(cap->cpus);
	free(cap);
}

static int capture_open(struct source *src, const char *arg, const struct config *cfg, char *err,
			size_t err_len)
{
	uint32_t capture_bytes = cfg->capture_bytes;
	struct capture *cap;
	int ret;

	if (arg && *arg) {
		snprintf(err, err_len, "bpf: unexpected argument '%s' (the source is just 'bpf')",
			 arg);
		return -EINVAL;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
		snprintf(err, err_len,
			 "bpf: no kernel BTF at /sys/kernel/btf/vmlinux (needs a kernel built with "
			 "CONFIG_DEBUG_INFO_BTF=y)");
		return -ENOENT;
	}
	if (geteuid() != 0) {
		snprintf(err, err_len,
			 "bpf: capturing needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN); run "
			 "with sudo");
		return -EPERM;
	}
	if (cfg->ring_bytes < 4096 || (cfg->ring_bytes & (cfg->ring_bytes - 1))) {
		snprintf(err, err_len,
			 "bpf: capture.ring_bytes %u: expected a power of two >= 4096",
			 cfg->ring_bytes);
		return -EINVAL;
	}
	ret = capture_mount_tracefs(err, err_len);
	if (ret < 0)
		return ret;
	libbpf_set_print(capture_libbpf_print);
	ret = libbpf_num_possible_cpus();
	if (ret <= 0) {
		snprintf(err, err_len, "bpf: cannot count possible CPUs: %s", strerror(-ret));
		return ret < 0 ? ret : -EINVAL;
	}

	cap = calloc(1, sizeof(*cap));
	if (!cap)
		return -ENOMEM;
	cap->ncpus = (uint32_t)ret;
	/* one reader by default: it merges all CPUs' rings in time order (reader.c), which
	 * several readers could only approximate */
	cap->nreaders = cfg->readers ? cfg->readers : 1;
	if (cap->nreaders > cap->ncpus)
		cap->nreaders = cap->ncpus; /* a reader without a ring would only spin */
	cap->wait_for_pool = cfg->queue_full == QUEUE_FULL_WAIT;
	cap->cpus = calloc(cap->ncpus, sizeof(*cap->cpus));
	if (!cap->cpus) {
		free(cap);
		return -ENOMEM;
	}
	for (uint32_t cpu = 0; cpu < cap->ncpus; cpu++) {
		cap->cpus[cpu].ring_fd = -1;
		cap->cpus[cpu].cpu = cpu;
	}

	cap->skel = capture_bpf__open();
	if (!cap->skel) {
		ret = -errno;
		snprintf(err, err_len, "bpf: opening the BPF object: %s", strerror(-ret));
		goto err_free_cap;
	}
	/* one payload must fit one pooled chunk, and the kernel's assembly area */
	if (capture_bytes > cfg->chunk_bytes)
		capture_bytes = cfg->chunk_bytes;
	if (capture_bytes > WW_CAPTURE_MAX)
		capture_bytes = WW_CAPTURE_MAX;
	cap->skel->rodata->self_tgid = (uint32_t)getpid();
	cap->skel->rodata->target_tgid = capture_filter_pid;
	cap->skel->rodata->capture_bytes = capture_bytes;
	cap->skel->rodata->wakeup_bytes = cfg->wakeup_bytes;
	cap->skel->rodata->capture_unix = true;
	capture_ephemeral_ports(cap);
	bpf_map__set_max_entries(cap->skel->maps.rings, cap->ncpus);
	bpf_map__set_max_entries(cap->skel->maps.scratch, 2 * cap->ncpus);
	cap->skel->rodata->nr_cpus = cap->ncpus;
	ret = capture_make_rings(cap, cfg->ring_bytes, err, err_len);
	if (ret < 0)
		goto err_close_rings;

	ret = capture_bpf__load(cap->skel);
	if (ret < 0) {
		snprintf(err, err_len,
			 "bpf: loading the capture programs failed: %s (verifier log above; root "
			 "with CAP_BPF and CAP_PERFMON needed)",
			 strerror(-ret));
		goto err_close_rings;
	}
	ret = capture_fill_rings(cap, err, err_len);
	if (ret < 0)
		goto err_close_rings;
	capture_seed_listen_ports(cap);
	ret = capture_make_readers(cap, err, err_len);
	if (ret < 0)
		goto err_free_readers;
	/* last: from here on the kernel produces events, and the rings hold them for run() */
	ret = capture_attach(cap, err, err_len);
	if (ret < 0)
		goto err_detach;
	capture_attach_tls(cap);
	capture_proc_start(cap);
	src->priv = cap;
	return 0;

err_detach:
	capture_detach(cap); /* the programs that did attach */
err_free_readers:
	capture_free_readers(cap);
err_close_rings:
	capture_close_rings(cap);
	capture_bpf__destroy(cap->skel);
err_free_cap:
	capture_free(cap);
	return ret;
}

static uint32_t capture_readers(struct source *src)
{
	const struct capture *cap = src->priv;

	return cap->nreaders;
}

static struct chunk *capture_chunk_get(struct capture_reader *r)
{
	struct chunk *c = reader_chunk_get(r->rd);

	/* queue_full = wait: stall here; the kernel ring absorbs, and counts what it cannot */
	while (!c && r->cap->wait_for_pool && !reader_stopping(r->rd)) {
		struct timespec pause = {0, 50000};

		reader_flush(r->rd);
		nanosleep(&pause, NULL);
		c = reader_chunk_get(r->rd);
	}
	if (!c)
		reader_count_source_drop(r->rd, 1);
	return c;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d, a dual-stack socket) is written as IPv4. */
static void capture_endpoint(struct endpoint *dst, const struct ww_endpoint *src)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(dst, 0, sizeof(*dst));
	dst->family = src->family;
	dst->port = src->port;
	if (src->family == AF_INET6 && memcmp(src->addr, mapped, sizeof(mapped)) == 0) {
		dst->family = AF_INET;
		memcpy(dst->addr, src->addr + 12, 4);
	} else if (src->family == AF_INET) {
		memcpy(dst->addr, src->addr, 4);
	} else if (src->family == AF_INET6) {
		memcpy(dst->addr, src->addr, 16);
	}
}

/* Ring-buffer callback: the sample is borrowed until we return. */
static int capture_sample(void *ctx, void *data, size_t size)
{
	struct capture_cpu *cc = ctx;
	struct capture_reader *r = cc->owner;
	const struct ww_event *ev = data;
	uint32_t len;
	struct chunk *c;

	if (size < sizeof(*ev))
		return 0;
	len = ev->len;
	if (len > size - sizeof(*ev))
		len = (uint32_t)(size - sizeof(*ev));
	c = capture_chunk_get(r);
	if (!c)
		return 0;
	c->conn_key = ev->conn_key;
	c->generation = ev->generation;
	c->kind = ev->kind;
	c->dir = ev->dir;
	c->role = ev->role;
	c->flags = ev->flags;
	c->ts_ns = ev->ts_ns + (uint64_t)r->realtime_off_ns;
	c->offset = ev->offset;
	if (len > r->chunk_cap) {
		len = r->chunk_cap;
		c->flags |= CHUNK_F_TRUNCATED;
	}
	c->len = len;
	c->len_true = ev->len_true;
	c->pid = ev->pid;
	c->reserved = 0;
	memcpy(c->comm, ev->comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = '\0';
	capture_endpoint(&c->src, &ev->src);
	capture_endpoint(&c->dst, &ev->dst);
	memcpy(c->data, (const uint8_t *)data + sizeof(*ev), len);
	reader_emit(r->rd, c);
	return 0;
}

/* Copies the kernel's per-CPU drop counters of this reader's CPUs into their blocks. */
static void capture_refresh_drops(struct capture_reader *r)
{
	struct capture *cap = r->cap;
	int fd = bpf_map__fd(cap->skel->maps.drops);

	for (uint32_t k = 0; k < WW_DROP_NR; k++) {
		if (bpf_map_lookup_elem(fd, &k, r->percpu) < 0)
			continue;
		for (uint32_t cpu = r->index; cpu < cap->ncpus; cpu += cap->nreaders) {
			uint64_t *slot = &cap->cpus[cpu].drops[k];
			uint64_t old = counter_read(slot);

			if (r->percpu[cpu] <= old)
				continue;
			__atomic_store_n(slot, r->percpu[cpu], __ATOMIC_RELAXED);
			if (capture_drop_is_loss[k])
				reader_count_source_drop(r->rd, r->percpu[cpu] - old);
		}
	}
}

/*
 * CLOCK_REALTIME - CLOCK_MONOTONIC, the realtime read between two monotonic reads, from the
 * tightest of a few tries. A reader preempted between two plain reads (a loaded host) would
 * shift the stamps of a whole pass, and its watermark, by the time it was off the CPU, and
 * passes would no longer be in one time order. Kept between refreshes for the same reason.
 */
static int64_t capture_realtime_offset(void)
{
	uint64_t best_span = UINT64_MAX;
	int64_t best = 0;

	for (int i = 0; i < 3; i++) {
		uint64_t m0 = capture_now_ns(CLOCK_MONOTONIC);
		uint64_t rt = capture_now_ns(CLOCK_REALTIME);
		uint64_t m1 = capture_now_ns(CLOCK_MONOTONIC);

		if (m1 - m0 < best_span) {
			best_span = m1 - m0;
			best = (int64_t)(rt - (m0 + (m1 - m0) / 2));
		}
	}
	return best;
}

static int capture_drain(struct capture_reader *r)
{
	struct capture *cap = r->cap;
	/* every event stamped before this instant is in a ring now: the pass's watermark, on
	 * the scale of the chunks' stamps (the kernel's monotonic clock, the same offset) */
	uint64_t pass_start = capture_now_ns(CLOCK_MONOTONIC) + (uint64_t)r->realtime_off_ns;

	for (uint32_t cpu = r->index; cpu < cap->ncpus; cpu += cap->nreaders) {
		int n = ring_buffer__consume(cap->cpus[cpu].rb);

		if (n < 0) {
			fprintf(stderr, "wirewatch: bpf: consuming the ring of CPU %u: %s\n", cpu,
				strerror(-n));
			return n;
		}
	}
	reader_flush(r->rd);
	reader_round_done(r->rd, pass_start);
	return 0;
}

static int capture_run(struct source *src, struct reader *rd, uint32_t index)
{
	struct capture *cap = src->priv;
	struct capture_reader *r = &cap->readers[index];
	struct epoll_event events[16];
	int ret = 0;

	r->rd = rd;
	r->chunk_cap = reader_chunk_capacity(rd);
	r->realtime_off_ns = capture_realtime_offset();
	while (!reader_stopping(rd)) {
		uint64_t now;

		/* woken or not, every ring is drained: NO_WAKEUP events only wait for the timeout */
		if (epoll_wait(r->epfd, events, 16, CAPTURE_POLL_MS) < 0 && errno != EINTR) {
			ret = -errno;
			fprintf(stderr, "wirewatch: bpf: epoll_wait: %s\n", strerror(errno));
			break;
		}
		ret = capture_drain(r);
		if (ret < 0)
			break;
		now = capture_now_ns(CLOCK_MONOTONIC);
		if (now >= r->next_refresh_ns) {
			capture_refresh_drops(r);
			r->realtime_off_ns = capture_realtime_offset(); /* follows clock steps */
			r->next_refresh_ns = now + CAPTURE_REFRESH_NS;
		}
	}
	if (ret == 0)
		ret = capture_drain(r); /* what the kernel queued before the stop */
	capture_refresh_drops(r);
	return ret;
}

static void capture_close(struct source *src)
{
	struct capture *cap = src->priv;

	if (!cap)
		return;
	capture_detach(cap);
	capture_proc_stop(cap);
	capture_free_readers(cap);
	capture_close_rings(cap);
	capture_bpf__destroy(cap->skel);
	capture_free(cap);
	src->priv = NULL;
}

const struct source_ops bpf_source_ops = {
	.name = "bpf",
	.live = true,
	.unordered = true,
	.open = capture_open,
	.readers = capture_readers,
	.run = capture_run,
	.close = capture_close,
};
