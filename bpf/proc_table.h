/*
 * The process table: what is known of every process on the host (pid, parent, comm, exe,
 * command line, uids, cgroup and container, start and exit time), so a record can say which
 * program, started by whom, in which container, made a connection.
 *
 * Fed by one writer: the eBPF source's process thread (bpf/capture.c), from /proc at start
 * (proc_table_scan) and then from the kernel's sched_process_fork/exec/exit events
 * (proc_table_apply). Read by any thread (the workers) without locks:
 *
 *	struct proc_info p;
 *
 *	if (proc_table_get(pid, &p))            // copies the entry: no section to manage
 *		use(p.exe, p.ppid, p.uid, p.container);
 *
 * or, to copy only some fields (an entry is ~900 bytes):
 *
 *	proc_table_read_begin();
 *	const struct proc_info *p = proc_table_lookup(pid);
 *	if (p)
 *		use(p->exe, ...);                   // valid until proc_table_read_end()
 *	proc_table_read_end();
 *
 * Contract: owner = the single writer thread (whichever thread calls proc_table_init, scan,
 * apply, expire; capture.c hands the role from the main thread to its process thread at
 * pthread_create). Readers = any thread, inside a read section (an epoch section of
 * ck_epoch, per thread, registered on first use). Ordering: an entry is never changed once
 * published; the writer fills a new copy and publishes it with ck_hs_set (which fences the
 * stores of the copy before the pointer store), so a reader sees either the old or the new
 * entry whole. Replaced and removed entries are freed only after every read section that
 * may hold them has ended (ck_epoch_call, reclaimed by ck_epoch_poll in the writer).
 * Exited processes stay PROC_KEEP_EXITED_NS so events that arrive late still resolve.
 * Without a table (other sources), lookups return NULL and sections cost nothing.
 */
#ifndef WIREWATCH_PROC_TABLE_H
#define WIREWATCH_PROC_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "events.h"

#define PROC_COMM_LEN	   16
#define PROC_EXE_LEN	   256
#define PROC_CMDLINE_LEN   WW_PROC_ARGS_MAX /* same bound as the kernel's argv copy */
#define PROC_CONTAINER_LEN 72		    /* a 64-hex-digit container id and its NUL */
#define PROC_RUNTIME_LEN   12

#define PROC_KEEP_EXITED_NS (30ull * 1000000000ull)
#define PROC_TABLE_MAX	    65536u /* default capacity: entries, live and exited */

/* Where an entry's facts came from (the latest source wins). */
enum proc_source {
	PROC_FROM_SCAN = 1, /* read from /proc at start */
	PROC_FROM_FORK = 2, /* sched_process_fork: program inherited from the parent */
	PROC_FROM_EXEC = 3, /* sched_process_exec */
};

struct proc_info {
	uint32_t pid;	    /* tgid; the table's key (first member: compared as a uint32_t) */
	uint32_t ppid;	    /* real parent's tgid; 0 unknown */
	uint32_t uid;	    /* real uid */
	uint32_t euid;	    /* effective uid */
	uint64_t cgroup_id; /* cgroup v2 id (kernfs node id), 0 unknown (processes from /proc) */
	uint64_t start_ns;  /* CLOCK_REALTIME ns the process started */
	uint64_t exit_ns;   /* CLOCK_REALTIME ns the process exited, 0 while it runs */
	int32_t exit_code;  /* status << 8 | signal, as wait() would see it; valid when exited */
	uint8_t source;	    /* enum proc_source */
	bool cmdline_truncated; /* argv was longer than PROC_CMDLINE_LEN - 1 bytes */
	char comm[PROC_COMM_LEN];
	/* absolute path of the program (/proc/PID/exe), or as given to execve() when the
	 * process was gone before it could be read; "" for kernel threads */
	char exe[PROC_EXE_LEN];
	char cmdline[PROC_CMDLINE_LEN];		  /* argv joined by single spaces */
	char container[PROC_CONTAINER_LEN];	  /* container id (hex), "" when not in one */
	char container_runtime[PROC_RUNTIME_LEN]; /* "docker", "containerd", "crio", "podman",
						     "kubepods" (id known, runtime not) or "" */
};

/* ---- writer side: one thread at a time (see the contract above) ---- */

/*
 * Creates the table (max_entries 0 = PROC_TABLE_MAX). proc_root is where /proc is
 * ("/proc"; tests pass a directory of fake PID entries). Returns 0 or -errno.
 */
int proc_table_init(const char *proc_root, uint32_t max_entries);

/* Frees the table; no reader may be inside a read section any more. */
void proc_table_destroy(void);

/* Enters every process of proc_root. Returns the number of processes read, or -errno. */
int proc_table_scan(void);

/* Applies one kernel event (fork: new entry; exec: new program; exit: marks it exited). */
void proc_table_apply(const struct ww_proc_event *ev);

/*
 * Removes exited entries older than PROC_KEEP_EXITED_NS at now_ns (CLOCK_REALTIME) and
 * frees what no reader can still see. Returns the number removed.
 */
uint32_t proc_table_expire(uint64_t now_ns);

/*
 * Marks exited the live entries whose process is gone (kill(pid, 0) says ESRCH): their exit
 * event was lost (ring full). Only for the real /proc. Returns the number marked.
 */
uint32_t proc_table_reap_lost(uint64_t now_ns);

/* Entries in the table, live and exited (writer side; readers may see a stale count). */
uint32_t proc_table_count(void);

/* Writes every entry as one JSON object per line (debugging, tests). Returns 0 or -errno. */
int proc_table_dump(FILE *f);

/* ---- reader side: any thread ---- */

void proc_table_read_begin(void);
void proc_table_read_end(void);

/* The entry of pid, or NULL; valid until proc_table_read_end(). Never write through it. */
const struct proc_info *proc_table_lookup(uint32_t pid);

/* Copies the entry of pid into out (its own read section). False when unknown. */
bool proc_table_get(uint32_t pid, struct proc_info *out);

/* ---- parsers (exposed for the unit tests) ---- */

/*
 * Finds a container id in the text of /proc/PID/cgroup (one "hierarchy:controllers:path"
 * per line), or in a bare cgroup path or name. Recognises docker-<id>.scope,
 * cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope (systemd driver, v1 and
 * v2), /docker/<id>, /libpod_parent/libpod-<id>, /kubepods/.../pod<uid>/<id> (cgroupfs
 * driver), with <id> 64 hex digits, looking from the leaf up (nested cgroups inside a
 * container). The conmon monitors (crio-conmon-, libpod-conmon-) are not containers.
 * Returns true and fills id and runtime (either may be NULL) when one is found.
 */
bool proc_cgroup_container(const char *text, size_t len, char *id, size_t id_len, char *runtime,
			   size_t runtime_len);

/*
 * Parses /proc/PID/stat: comm (between the first '(' and the last ')': a comm may hold
 * both), ppid and starttime (clock ticks since boot). Returns 0 or -EINVAL.
 */
int proc_stat_parse(const char *text, size_t len, char *comm, size_t comm_len, uint32_t *ppid,
		    uint64_t *start_ticks);

/* Joins NUL-separated argv into a space-separated string; true when it had to be cut. */
bool proc_cmdline_join(const char *argv, size_t len, char *out, size_t out_len);

#endif
