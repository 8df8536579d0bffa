/*
 * The one header shared by the kernel programs (capture.bpf.c) and the loader (capture.c):
 * the record the kernel writes into the per-CPU ring buffers, and the indexes of the
 * per-CPU drop counters.
 *
 * Fixed-width types and explicit padding only, so both compilers (clang -target bpf and the
 * host compiler) lay it out the same; every size is checked below.
 */
#ifndef WIREWATCH_BPF_EVENTS_H
#define WIREWATCH_BPF_EVENTS_H

#ifdef __BPF__
/* vmlinux.h already defines __u8 .. __u64. */
#else
#include <linux/types.h>
#endif

/* Payload bytes one event can carry at most; capture_bytes is clamped to this. */
#define WW_CAPTURE_MAX (32u * 1024u)
/* iovecs read per readv/writev/recvmsg/sendmsg; bytes past them are reported, not captured. */
#define WW_IOV_MAX 16u
/* messages of one recvmmsg/sendmmsg turned into events; the rest are counted as dropped. */
#define WW_MMSG_MAX 8u
#define WW_COMM_LEN 16u

/* Same values as enum chunk_kind (runtime/chunk.h) for the connection events. */
enum ww_kind {
	WW_KIND_DATA = 0,  /* len captured payload bytes follow the header */
	WW_KIND_OPEN = 1,  /* connect/accept returned, or a socket first seen at read/write */
	WW_KIND_CLOSE = 2, /* close() returned 0 on a tracked socket */
	WW_KIND_GAP = 3,   /* len_true bytes moved but could not be read (payload fault) */
};

/* Same values as enum chunk_flags. */
enum ww_flags {
	WW_F_TLS = 1u << 0,
	WW_F_TRUNCATED = 1u << 1,
	WW_F_NO_PAYLOAD = 1u << 2,
	WW_F_UDP = 1u << 3,
	WW_F_UNIX = 1u << 4,
};

/* Same layout as struct endpoint: network byte order address, host byte order port. */
struct ww_endpoint {
	__u16 family; /* AF_INET (addr[0..4)), AF_INET6, AF_UNIX (no address) or 0 */
	__u16 port;
	__u8 addr[16];
};

/*
 * One ring-buffer record. The payload (len bytes) follows the header directly; the record
 * is sizeof(struct ww_event) + len bytes long.
 *
 * dir is already oriented client -> server (0 request, 1 response) from role and from
 * whether the traced process read or wrote. offset is the number of bytes of this
 * direction the kernel saw before this event (len_true of every earlier event, captured
 * or not), so user space sees lost events as a jump. Events of one connection can come
 * out of different per-CPU rings when a thread migrates: order them by offset.
 * OPEN and CLOSE carry no payload; their offset and len_true are 0.
 */
struct ww_event {
	__u64 conn_key; /* tgid << 32 | fd */
	__u64 ts_ns;  /* CLOCK_MONOTONIC (bpf_ktime_get_ns); user space adds the realtime offset */
	__u64 offset; /* bytes of this direction before this event */
	__u32 generation; /* new per connection on this key (fd reuse), from a global counter */
	__u32 len;	  /* payload bytes that follow */
	__u32 len_true;	  /* bytes the syscall really moved (>= len) */
	__u32 pid;	  /* tgid */
	__u8 kind;	  /* enum ww_kind */
	__u8 dir;	  /* enum dir of runtime/chunk.h */
	__u8 role;	  /* enum conn_role of runtime/chunk.h */
	__u8 flags;	  /* enum ww_flags */
	__u32 tid;	  /* the thread that made the syscall */
	char comm[WW_COMM_LEN]; /* the process's (thread group leader's) comm */
	struct ww_endpoint src; /* client side */
	struct ww_endpoint dst; /* server side */
};

/* Per-CPU drop counters (BPF_MAP_TYPE_PERCPU_ARRAY "drops", one slot each). */
enum ww_drop {
	WW_DROP_RING_FULL = 0, /* bpf_ringbuf_output failed: the event is lost, offsets show it */
	WW_DROP_READ_FAIL = 1, /* payload could not be read from user memory (sent as a GAP) */
	WW_DROP_CONN_FULL = 2, /* connection map update failed: socket not tracked */
	WW_DROP_ARGS_FULL = 3, /* no task-storage slot for the syscall arguments: call not seen */
	WW_DROP_NO_RING = 4,   /* no ring buffer for this CPU (should not happen) */
	WW_DROP_IOV_CUT = 5,   /* iovecs or mmsg messages past the bounded loop (bytes not read) */
	WW_DROP_TLS_NO_FD = 6, /* TLS cleartext whose socket is unknown (no syscall seen yet) */
	WW_DROP_SCRATCH_BUSY = 7,   /* uprobe event while another filled this CPU's uprobe slot */
	WW_DROP_PROC_RING_FULL = 8, /* process event lost: proc_events ring full (table stale) */
	WW_DROP_IO_URING = 9, /* io_uring_enter by a traced process: its socket I/O is not seen */
	WW_DROP_NR = 10,
};

/*
 * ---- processes: sched_process_fork/exec/exit -> the process table (proc_table.c) ----
 *
 * One record per event in the single `proc_events` ring (not per CPU: a few thousand a second
 * at most, and one ring keeps a process's fork, exec and exit in the order they happened).
 * Times are CLOCK_BOOTTIME ns (bpf_ktime_get_boot_ns, task->start_boottime), the clock of
 * /proc/PID/stat's starttime, so processes read from /proc at start and processes seen by
 * events agree on their start time.
 */
#define WW_PROC_PATH_MAX   256u /* exec: the file name as execve() was given it */
#define WW_PROC_ARGS_MAX   512u /* exec: argv, NUL separated, cut at this many bytes */
#define WW_PROC_CGROUP_MAX 128u /* the cgroup v2 leaf name (e.g. docker-<id>.scope) */

enum ww_proc_kind {
	WW_PROC_FORK = 1, /* a new process (not a thread): pid is the child */
	WW_PROC_EXEC = 2, /* pid replaced its program: filename and args are set */
	WW_PROC_EXIT = 3, /* the last thread of pid exited: exit_code is set */
};

struct ww_proc_event {
	__u64 ts_ns;	     /* CLOCK_BOOTTIME of the event */
	__u64 start_ns;	     /* CLOCK_BOOTTIME the process started (task->start_boottime) */
	__u64 cgroup_id;     /* cgroup v2 id of the process (kernfs node id), 0 unknown */
	__u32 pid;	     /* tgid */
	__u32 ppid;	     /* real parent's tgid */
	__u32 uid;	     /* real uid */
	__u32 euid;	     /* effective uid (differs after a setuid exec) */
	__s32 exit_code;     /* EXIT: task->exit_code (status << 8 | signal) */
	__u16 args_len;	     /* EXEC: bytes of args used */
	__u8 kind;	     /* enum ww_proc_kind */
	__u8 args_truncated; /* EXEC: argv was longer than WW_PROC_ARGS_MAX */
	char comm[WW_COMM_LEN];
	char filename[WW_PROC_PATH_MAX];
	char cgroup[WW_PROC_CGROUP_MAX];
	char args[WW_PROC_ARGS_MAX];
};

_Static_assert(sizeof(struct ww_endpoint) == 20, "ww_endpoint layout");
_Static_assert(sizeof(struct ww_event) == 104, "ww_event layout");
_Static_assert(sizeof(struct ww_event) % 8 == 0, "ww_event keeps the payload 8-aligned");

_Static_assert(sizeof(struct ww_proc_event) == 960, "ww_proc_event layout");
_Static_assert(sizeof(struct ww_proc_event) % 8 == 0, "ww_proc_event keeps records 8-aligned");

#endif
