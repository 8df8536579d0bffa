/*
 * The process table (see proc_table.h for the contract): one ck_hs hash set in SPMC mode,
 * keyed by pid, whose objects are immutable proc_node copies; ck_epoch defers freeing
 * replaced and removed entries (and the hash set's own old arrays after a grow) until no
 * reader can hold them.
 *
 * Why copy-on-write rather than updating fields in place: exec changes exe, cmdline, comm and
 * the uids together, and a reader copying strings while they change would get a mix of two
 * programs. Process events are rare (fork/exec/exit: thousands a second at most), lookups are
 * per record: the copy is on the cheap side.
 */
#include <ck_epoch.h>
#include <ck_hs.h>
#include <ck_malloc.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "counters.h"
#include "proc_table.h"

#define PROC_ID_HEX 64 /* docker, containerd, cri-o and podman ids: sha256 in hex */

struct proc_node {
	struct proc_info info; /* first: a node pointer is its info pointer and its key */
	ck_epoch_entry_t epoch;
};

struct proc_table {
	ck_hs_t hs;
	char root[PATH_MAX / 2];
	uint32_t max_entries;
	uint32_t count;
	long ticks_per_s;
};

enum proc_counter {
	PROC_C_EVENTS,
	PROC_C_SCANNED,
	PROC_C_EXPIRED,
	PROC_C_FULL,
	PROC_C_LOST_EXITS,
	PROC_COUNTERS,
};

static const struct counter_def proc_counter_defs[PROC_COUNTERS] = {
	[PROC_C_EVENTS] = {"proc_events_total", "Process events (fork, exec, exit) applied"},
	[PROC_C_SCANNED] = {"proc_scanned_total", "Processes read from /proc at start"},
	[PROC_C_EXPIRED] = {"proc_expired_total", "Exited processes removed from the table"},
	[PROC_C_FULL] = {"proc_table_full_total",
			 "Processes not entered because the process table was full"},
	[PROC_C_LOST_EXITS] = {"proc_lost_exits_total",
			       "Processes found gone without their exit event"},
};

/* Owner: the writer (counter_add); read by metrics and stats. Registered once, kept. */
static uint64_t proc_counters[PROC_COUNTERS];

/*
 * The epoch and the writer's record live for the whole process (readers keep their records
 * across a destroy and a new init, as the unit tests do). The table pointer is published
 * with release and read with acquire, so a reader that sees it sees it initialised.
 */
static ck_epoch_t proc_epoch;
static ck_epoch_record_t proc_writer;
static pthread_once_t proc_once = PTHREAD_ONCE_INIT;
static pthread_key_t proc_reader_key;
static _Thread_local ck_epoch_record_t *proc_reader;
static struct proc_table *proc_table;

static void proc_reader_exit(void *rec)
{
	ck_epoch_unregister(rec); /* kept for ck_epoch_recycle by a later thread */
}

static void proc_once_init(void)
{
	ck_epoch_init(&proc_epoch);
	ck_epoch_register(&proc_epoch, &proc_writer, NULL);
	pthread_key_create(&proc_reader_key, proc_reader_exit);
	counters_register(NULL, NULL, proc_counter_defs, PROC_COUNTERS, proc_counters);
}

/* ---- ck_hs plumbing ---- */

static unsigned long proc_hash_pid(uint32_t pid)
{
	uint64_t h = pid;

	/* pids are small and sequential: spread them (splitmix64 finaliser) */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (unsigned long)h;
}

static unsigned long proc_hs_hash(const void *object, unsigned long seed)
{
	(void)seed;
	return proc_hash_pid(*(const uint32_t *)object);
}

static bool proc_hs_compare(const void *a, const void *b)
{
	return *(const uint32_t *)a == *(const uint32_t *)b;
}

/* The hash set's arrays: a header before each so a deferred free can go through the epoch. */
struct proc_hs_block {
	ck_epoch_entry_t epoch;
	size_t size;
	max_align_t data[];
};

static void *proc_hs_malloc(size_t size)
{
	struct proc_hs_block *b = malloc(sizeof(*b) + size);

	if (!b)
		return NULL;
	b->size = size;
	return b->data;
}

static void proc_hs_block_free(ck_epoch_entry_t *e)
{
	free((char *)e - offsetof(struct proc_hs_block, epoch));
}

/* defer: readers may still be probing the old array (a grow); free after their sections */
static void proc_hs_free(void *p, size_t size, bool defer)
{
	struct proc_hs_block *b;

	(void)size;
	if (!p)
		return;
	b = (struct proc_hs_block *)((char *)p - offsetof(struct proc_hs_block, data));
	if (defer)
		ck_epoch_call(&proc_writer, &b->epoch, proc_hs_block_free);
	else
		free(b);
}

static void *proc_hs_realloc(void *p, size_t old_size, size_t new_size, bool defer)
{
	void *n = proc_hs_malloc(new_size);

	if (!n)
		return NULL;
	if (p)
		memcpy(n, p, old_size < new_size ? old_size : new_size);
	proc_hs_free(p, old_size, defer);
	return n;
}

static struct ck_malloc proc_hs_allocator = {
	.malloc = proc_hs_malloc,
	.realloc = proc_hs_realloc,
	.free = proc_hs_free,
};

static void proc_node_free(ck_epoch_entry_t *e)
{
	free((char *)e - offsetof(struct proc_node, epoch));
}

static void proc_node_retire(struct proc_node *n)
{
	if (n)
		ck_epoch_call(&proc_writer, &n->epoch, proc_node_free);
}

/* ---- writer: publish, replace, remove ---- */

static const struct proc_node *proc_find(struct proc_table *t, uint32_t pid)
{
	return ck_hs_get(&t->hs, proc_hash_pid(pid), &pid);
}

/*
 * Publishes n (a fresh copy, not visible to anyone yet) in place of whatever entry its pid
 * had. A new pid in a full table first makes room by dropping every exited entry.
 */
static bool proc_publish(struct proc_table *t, struct proc_node *n)
{
	unsigned long h = proc_hash_pid(n->info.pid);
	void *prev = NULL;

	if (!proc_find(t, n->info.pid) && t->count >= t->max_entries) {
		proc_table_expire(UINT64_MAX);
		if (t->count >= t->max_entries) {
			counter_add(&proc_counters[PROC_C_FULL], 1);
			free(n);
			return false;
		}
	}
	if (!ck_hs_set(&t->hs, h, n, &prev)) {
		counter_add(&proc_counters[PROC_C_FULL], 1); /* no memory to grow */
		free(n);
		return false;
	}
	if (prev)
		proc_node_retire(prev);
	else
		t->count++;
	return true;
}

static struct proc_node *proc_node_new(void)
{
	return calloc(1, sizeof(struct proc_node));
}

/* ---- reading /proc ---- */

static uint64_t proc_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_BOOTTIME ns -> CLOCK_REALTIME ns (the clocks' offset now; suspends move it). */
static uint64_t proc_boot_to_real(uint64_t boot_ns)
{
	int64_t off = (int64_t)(proc_clock_ns(CLOCK_REALTIME) - proc_clock_ns(CLOCK_BOOTTIME));

	return boot_ns ? (uint64_t)((int64_t)boot_ns + off) : 0;
}

/* Reads up to cap - 1 bytes of root/pid/name, NUL-terminated; returns the length or -errno. */
static ssize_t proc_read(const struct proc_table *t, uint32_t pid, const char *name, char *buf,
			 size_t cap)
{
	char path[PATH_MAX];
	ssize_t n, got = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%u/%s", t->root, pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)got < cap - 1) {
		n = read(fd, buf + got, cap - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

static void proc_read_exe(const struct proc_table *t, uint32_t pid, char *exe, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%u/exe", t->root, pid);
	n = readlink(path, exe, len - 1);
	exe[n > 0 ? n : 0] = '\0';
}

static void proc_read_container(const struct proc_table *t, uint32_t pid, struct proc_info *p)
{
	char buf[4096];
	ssize_t n = proc_read(t, pid, "cgroup", buf, sizeof(buf));

	p->container[0] = p->container_runtime[0] = '\0';
	if (n > 0)
		proc_cgroup_container(buf, (size_t)n, p->container, sizeof(p->container),
				      p->container_runtime, sizeof(p->container_runtime));
}

/* "Uid:\treal\teffective\tsaved\tfs" of /proc/PID/status */
static void proc_read_uids(const struct proc_table *t, uint32_t pid, struct proc_info *p)
{
	char buf[4096];
	const char *u;
	unsigned int uid, euid;

	if (proc_read(t, pid, "status", buf, sizeof(buf)) <= 0)
		return;
	u = strstr(buf, "\nUid:");
	if (u && sscanf(u + 5, "%u %u", &uid, &euid) == 2) {
		p->uid = uid;
		p->euid = euid;
	}
}

static int proc_scan_one(struct proc_table *t, uint32_t pid)
{
	struct proc_node *n = proc_node_new();
	struct proc_info *p;
	char buf[1024];
	uint64_t ticks = 0;
	ssize_t len;

	if (!n)
		return -ENOMEM;
	p = &n->info;
	p->pid = pid;
	p->source = PROC_FROM_SCAN;
	len = proc_read(t, pid, "stat", buf, sizeof(buf));
	if (len <= 0 ||
	    proc_stat_parse(buf, (size_t)len, p->comm, sizeof(p->comm), &p->ppid, &ticks) < 0) {
		free(n); /* gone meanwhile, or not a process directory */
		return -ENOENT;
	}
	if (t->ticks_per_s > 0)
		p->start_ns = proc_boot_to_real(ticks * (1000000000ull / (uint64_t)t->ticks_per_s));
	/* one byte more than kept: tells a cmdline of exactly the bound from a longer one */
	len = proc_read(t, pid, "cmdline", buf, PROC_CMDLINE_LEN + 1);
	if (len > 0)
		p->cmdline_truncated =
			proc_cmdline_join(buf, (size_t)len, p->cmdline, sizeof(p->cmdline));
	proc_read_exe(t, pid, p->exe, sizeof(p->exe));
	proc_read_uids(t, pid, p);
	proc_read_container(t, pid, p);
	return proc_publish(t, n) ? 0 : -ENOSPC;
}

int proc_table_scan(void)
{
	struct proc_table *t = proc_table;
	struct dirent *de;
	int found = 0;
	DIR *d;

	if (!t)
		return -EINVAL;
	d = opendir(t->root);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || !pid || pid > UINT32_MAX)
			continue;
		if (proc_scan_one(t, (uint32_t)pid) == 0)
			found++;
	}
	closedir(d);
	counter_add(&proc_counters[PROC_C_SCANNED], (uint64_t)found);
	ck_epoch_poll(&proc_writer);
	return found;
}

/* ---- kernel events ---- */

static void proc_copy_str(char *dst, size_t cap, const char *src, size_t src_cap)
{
	size_t n = strnlen(src, src_cap < cap ? src_cap : cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/*
 * The container of a process whose cgroup differs from what the entry knew: /proc/PID/cgroup
 * sees every hierarchy (cgroup v1 hosts), the kernel's v2 leaf name is what is left when the
 * process is already gone.
 */
static void proc_resolve_container(struct proc_table *t, struct proc_info *p,
				   const struct ww_proc_event *ev)
{
	char buf[4096];
	ssize_t n = proc_read(t, p->pid, "cgroup", buf, sizeof(buf));

	p->container[0] = p->container_runtime[0] = '\0';
	if (n > 0 && proc_cgroup_container(buf, (size_t)n, p->container, sizeof(p->container),
					   p->container_runtime, sizeof(p->container_runtime)))
		return;
	if (n <= 0) {
		proc_copy_str(buf, sizeof(buf), ev->cgroup, sizeof(ev->cgroup));
		proc_cgroup_container(buf, strlen(buf), p->container, sizeof(p->container),
				      p->container_runtime, sizeof(p->container_runtime));
	}
}

/* The common part every event carries; fills what an unknown process needs. */
static void proc_from_event(struct proc_info *p, const struct ww_proc_event *ev)
{
	p->pid = ev->pid;
	p->ppid = ev->ppid;
	p->uid = ev->uid;
	p->euid = ev->euid;
	p->start_ns = proc_boot_to_real(ev->start_ns);
	proc_copy_str(p->comm, sizeof(p->comm), ev->comm, sizeof(ev->comm));
}

void proc_table_apply(const struct ww_proc_event *ev)
{
	struct proc_table *t = proc_table;
	const struct proc_node *old, *parent;
	struct proc_node *n;
	struct proc_info *p;
	uint64_t old_cgroup = 0;

	if (!t || !ev->pid)
		return;
	counter_add(&proc_counters[PROC_C_EVENTS], 1);
	old = proc_find(t, ev->pid);
	if (ev->kind == WW_PROC_EXIT && !old)
		return; /* never knew it: nothing to keep */
	n = proc_node_new();
	if (!n)
		return;
	p = &n->info;
	switch (ev->kind) {
	case WW_PROC_FORK:
		/* a fork runs its parent's program: inherit it, a stale entry on this pid goes */
		parent = proc_find(t, ev->ppid);
		if (parent) {
			*p = parent->info;
			old_cgroup = parent->info.cgroup_id;
		}
		proc_from_event(p, ev);
		p->exit_ns = 0;
		p->exit_code = 0;
		p->source = PROC_FROM_FORK;
		break;
	case WW_PROC_EXEC:
		if (old) {
			*p = old->info;
			old_cgroup = old->info.cgroup_id;
		} else {
			proc_from_event(p, ev);
		}
		proc_copy_str(p->comm, sizeof(p->comm), ev->comm, sizeof(ev->comm));
		p->uid = ev->uid; /* a setuid program changes them */
		p->euid = ev->euid;
		p->ppid = ev->ppid;
		p->source = PROC_FROM_EXEC;
		/* the resolved path when the process is still there; else what execve() was given */
		proc_read_exe(t, ev->pid, p->exe, sizeof(p->exe));
		if (!p->exe[0])
			proc_copy_str(p->exe, sizeof(p->exe), ev->filename, sizeof(ev->filename));
		p->cmdline_truncated =
			proc_cmdline_join(ev->args,
					  ev->args_len < sizeof(ev->args) ? ev->args_len
									  : sizeof(ev->args),
					  p->cmdline, sizeof(p->cmdline)) ||
			ev->args_truncated;
		break;
	case WW_PROC_EXIT:
		*p = old->info;
		p->exit_ns = proc_boot_to_real(ev->ts_ns);
		p->exit_code = ev->exit_code;
		break;
	default:
		free(n);
		return;
	}
	/*
	 * Containers: read again at every exec, since runtimes move the process between fork and
	 * exec, and on cgroup v1 hosts only the v1 hierarchies show the move (the v2 id the
	 * kernel sends does not change). A fork inherits, unless it was born elsewhere
	 * (clone3 CLONE_INTO_CGROUP) or nothing is known of its parent.
	 */
	if (ev->kind == WW_PROC_EXEC || (ev->kind == WW_PROC_FORK && ev->cgroup_id != old_cgroup &&
					 (old_cgroup || !p->container[0])))
		proc_resolve_container(t, p, ev);
	if (ev->kind != WW_PROC_EXIT && ev->cgroup_id)
		p->cgroup_id = ev->cgroup_id;
	proc_publish(t, n);
}

uint32_t proc_table_expire(uint64_t now_ns)
{
	struct proc_table *t = proc_table;
	uint32_t pids[256], removed = 0, n;
	ck_hs_iterator_t it;
	void *obj;

	if (!t)
		return 0;
	/* removal during an iteration is not allowed: collect a batch, remove, start over */
	do {
		n = 0;
		ck_hs_iterator_init(&it);
		while (n < 256 && ck_hs_next(&t->hs, &it, &obj)) {
			const struct proc_info *p = obj;

			if (p->exit_ns &&
			    (now_ns == UINT64_MAX || p->exit_ns + PROC_KEEP_EXITED_NS <= now_ns))
				pids[n++] = p->pid;
		}
		for (uint32_t i = 0; i < n; i++) {
			uint32_t pid = pids[i];
			void *gone = ck_hs_remove(&t->hs, proc_hash_pid(pid), &pid);

			if (gone) {
				proc_node_retire(gone);
				t->count--;
				removed++;
			}
		}
	} while (n == 256);
	if (removed) {
		counter_add(&proc_counters[PROC_C_EXPIRED], removed);
		ck_hs_gc(&t->hs, 0, 0); /* tombstones of the removed slots */
	}
	ck_epoch_poll(&proc_writer);
	return removed;
}

uint32_t proc_table_reap_lost(uint64_t now_ns)
{
	struct proc_table *t = proc_table;
	uint32_t pids[256], n = 0, marked = 0;
	ck_hs_iterator_t it;
	void *obj;

	if (!t)
		return 0;
	/* a bounded batch per call: called periodically, it gets through any table size */
	ck_hs_iterator_init(&it);
	while (n < 256 && ck_hs_next(&t->hs, &it, &obj)) {
		const struct proc_info *p = obj;

		if (!p->exit_ns && kill((pid_t)p->pid, 0) < 0 && errno == ESRCH)
			pids[n++] = p->pid;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct proc_node *old = proc_find(t, pids[i]);
		struct proc_node *c = proc_node_new();

		if (!old || !c) {
			free(c);
			continue;
		}
		c->info = old->info;
		c->info.exit_ns = now_ns;
		if (proc_publish(t, c))
			marked++;
	}
	counter_add(&proc_counters[PROC_C_LOST_EXITS], marked);
	return marked;
}

uint32_t proc_table_count(void)
{
	struct proc_table *t = __atomic_load_n(&proc_table, __ATOMIC_ACQUIRE);

	return t ? t->count : 0;
}

int proc_table_init(const char *proc_root, uint32_t max_entries)
{
	struct proc_table *t;

	pthread_once(&proc_once, proc_once_init);
	if (proc_table)
		return -EBUSY;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	snprintf(t->root, sizeof(t->root), "%s", proc_root ? proc_root : "/proc");
	t->max_entries = max_entries ? max_entries : PROC_TABLE_MAX;
	t->ticks_per_s = sysconf(_SC_CLK_TCK);
	if (!ck_hs_init(&t->hs, CK_HS_MODE_SPMC | CK_HS_MODE_OBJECT | CK_HS_MODE_DELETE,
			proc_hs_hash, proc_hs_compare, &proc_hs_allocator, 1024, 0)) {
		free(t);
		return -ENOMEM;
	}
	__atomic_store_n(&proc_table, t, __ATOMIC_RELEASE);
	return 0;
}

void proc_table_destroy(void)
{
	struct proc_table *t = proc_table;
	ck_hs_iterator_t it;
	void *obj;

	if (!t)
		return;
	__atomic_store_n(&proc_table, NULL, __ATOMIC_RELEASE);
	ck_epoch_barrier(&proc_writer); /* every deferred free done, no reader left inside */
	ck_hs_iterator_init(&it);
	while (ck_hs_next(&t->hs, &it, &obj))
		free(obj);
	ck_hs_destroy(&t->hs);
	ck_epoch_barrier(&proc_writer);
	free(t);
}

/* ---- readers ---- */

static ck_epoch_record_t *proc_reader_record(void)
{
	ck_epoch_record_t *r = proc_reader;

	if (r)
		return r;
	pthread_once(&proc_once, proc_once_init);
	r = ck_epoch_recycle(&proc_epoch, NULL);
	if (!r) {
		r = malloc(sizeof(*r));
		if (!r)
			return NULL;
		ck_epoch_register(&proc_epoch, r, NULL);
	}
	pthread_setspecific(proc_reader_key, r); /* unregistered when the thread exits */
	proc_reader = r;
	return r;
}

void proc_table_read_begin(void)
{
	ck_epoch_record_t *r = proc_reader_record();

	if (r)
		ck_epoch_begin(r, NULL);
}

void proc_table_read_end(void)
{
	if (proc_reader)
		ck_epoch_end(proc_reader, NULL);
}

const struct proc_info *proc_table_lookup(uint32_t pid)
{
	struct proc_table *t = __atomic_load_n(&proc_table, __ATOMIC_ACQUIRE);

	if (!t || !pid)
		return NULL;
	return ck_hs_get(&t->hs, proc_hash_pid(pid), &pid);
}

bool proc_table_get(uint32_t pid, struct proc_info *out)
{
	const struct proc_info *p;
	bool found = false;

	proc_table_read_begin();
	p = proc_table_lookup(pid);
	if (p) {
		*out = *p;
		found = true;
	}
	proc_table_read_end();
	return found;
}

/* ---- dump ---- */

static void proc_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c); /* bytes as code points: debugging output only */
		else
			fputc(c, f);
	}
	fputc('"', f);
}

int proc_table_dump(FILE *f)
{
	struct proc_table *t = proc_table;
	ck_hs_iterator_t it;
	void *obj;

	if (!t)
		return -EINVAL;
	ck_hs_iterator_init(&it);
	while (ck_hs_next(&t->hs, &it, &obj)) {
		const struct proc_info *p = obj;

		fprintf(f, "{\"pid\":%u,\"ppid\":%u,\"uid\":%u,\"euid\":%u,\"comm\":", p->pid,
			p->ppid, p->uid, p->euid);
		proc_json_string(f, p->comm);
		fputs(",\"exe\":", f);
		proc_json_string(f, p->exe);
		fputs(",\"cmdline\":", f);
		proc_json_string(f, p->cmdline);
		fprintf(f, ",\"cmdline_truncated\":%s,\"container\":",
			p->cmdline_truncated ? "true" : "false");
		proc_json_string(f, p->container);
		fputs(",\"container_runtime\":", f);
		proc_json_string(f, p->container_runtime);
		fprintf(f,
			",\"cgroup_id\":%llu,\"start_ns\":%llu,\"exit_ns\":%llu,\"exit_code\":%d,"
			"\"source\":%u}\n",
			(unsigned long long)p->cgroup_id, (unsigned long long)p->start_ns,
			(unsigned long long)p->exit_ns, p->exit_code, p->source);
	}
	return ferror(f) ? -EIO : 0;
}

/* ---- parsers ---- */

static bool proc_is_id(const char *s, size_t len)
{
	if (len != PROC_ID_HEX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* One path component; the parent's name tells the cgroupfs layouts apart. */
static const char *proc_component_id(const char *c, size_t len, const char *parent,
				     size_t parent_len, const char **idp)
{
	static const struct {
		const char *prefix, *runtime;
	} scopes[] = {
		/* systemd cgroup driver: <runtime>-<id>.scope */
		{"docker-", "docker"}, {"cri-containerd-", "containerd"}, {"crio-", "crio"},
		{"libpod-", "podman"}, {"containerd-", "containerd"},
	};
	static const char scope[] = ".scope";

	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		size_t pl = strlen(scopes[i].prefix);

		if (len > pl + sizeof(scope) - 1 && strncmp(c, scopes[i].prefix, pl) == 0 &&
		    strncmp(c + len - (sizeof(scope) - 1), scope, sizeof(scope) - 1) == 0 &&
		    proc_is_id(c + pl, len - pl - (sizeof(scope) - 1))) {
			*idp = c + pl;
			return scopes[i].runtime;
		}
	}
	/* cgroupfs driver: podman's libpod-<id> without .scope */
	if (len == 7 + PROC_ID_HEX && strncmp(c, "libpod-", 7) == 0 && proc_is_id(c + 7, len - 7)) {
		*idp = c + 7;
		return "podman";
	}
	/* cgroupfs driver: a bare id under the runtime's directory */
	if (proc_is_id(c, len)) {
		*idp = c;
		if (parent_len == 6 && strncmp(parent, "docker", 6) == 0)
			return "docker";
		if (parent_len == 13 && strncmp(parent, "libpod_parent", 13) == 0)
			return "podman";
		if (parent_len > 3 && strncmp(parent, "pod", 3) == 0)
			return "kubepods"; /* /kubepods/<qos>/pod<uid>/<id>: containerd or cri-o */
		return NULL;
	}
	return NULL;
}

/* A cgroup path: its components from the leaf up. */
static const char *proc_path_container(const char *path, size_t len, const char **idp)
{
	size_t end = len;

	while (end > 0) {
		size_t start = end, pstart, pend;
		const char *rt;

		while (start > 0 && path[start - 1] != '/')
			start--;
		pend = start ? start - 1 : 0;
		pstart = pend;
		while (pstart > 0 && path[pstart - 1] != '/')
			pstart--;
		rt = proc_component_id(path + start, end - start, path + pstart, pend - pstart,
				       idp);
		if (rt)
			return rt;
		if (!start)
			break;
		end = start - 1;
	}
	return NULL;
}

bool proc_cgroup_container(const char *text, size_t len, char *id, size_t id_len, char *runtime,
			   size_t runtime_len)
{
	const char *line = text, *end = text + len;

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *lend = nl ? nl : end;
		const char *path = line, *c, *idp = NULL, *rt;

		/* "hierarchy:controllers:path"; a bare path or name is taken whole */
		c = memchr(line, ':', (size_t)(lend - line));
		if (c) {
			c = memchr(c + 1, ':', (size_t)(lend - c - 1));
			if (c)
				path = c + 1;
		}
		rt = proc_path_container(path, (size_t)(lend - path), &idp);
		if (rt) {
			if (id && id_len > PROC_ID_HEX) {
				memcpy(id, idp, PROC_ID_HEX);
				id[PROC_ID_HEX] = '\0';
			}
			if (runtime && runtime_len)
				snprintf(runtime, runtime_len, "%s", rt);
			return true;
		}
		line = lend + 1;
	}
	return false;
}

int proc_stat_parse(const char *text, size_t len, char *comm, size_t comm_len, uint32_t *ppid,
		    uint64_t *start_ticks)
{
	const char *open = memchr(text, '(', len), *close = NULL, *p;
	unsigned long long v;
	char *end;
	size_t n;

	for (p = text + len; p > text; p--)
		if (p[-1] == ')') {
			close = p - 1;
			break;
		}
	if (!open || !close || close < open)
		return -EINVAL;
	n = (size_t)(close - open - 1);
	if (comm && comm_len) {
		if (n >= comm_len)
			n = comm_len - 1;
		memcpy(comm, open + 1, n);
		comm[n] = '\0';
	}
	/* after ") ": state (3), ppid (4), ... starttime (22) */
	p = close + 1;
	for (int field = 3; field <= 22; field++) {
		while (p < text + len && *p == ' ')
			p++;
		if (p >= text + len)
			return -EINVAL;
		if (field == 4 || field == 22) {
			errno = 0;
			v = strtoull(p, &end, 10);
			if (errno || end == p)
				return -EINVAL;
			if (field == 4)
				*ppid = (uint32_t)v;
			else
				*start_ticks = v;
		}
		while (p < text + len && *p != ' ')
			p++;
	}
	return 0;
}

bool proc_cmdline_join(const char *argv, size_t len, char *out, size_t out_len)
{
	size_t n = 0;
	bool cut = false;

	if (!out_len)
		return len > 0;
	/* the last argument's NUL is not a separator */
	while (len && argv[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++) {
		if (n == out_len - 1) {
			cut = true;
			break;
		}
		out[n++] = argv[i] ? argv[i] : ' ';
	}
	out[n] = '\0';
	return cut;
}
