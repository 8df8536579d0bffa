// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel side of the eBPF source: every byte a process moves through a socket, as events in
 * per-CPU ring buffers (events.h), keyed by tgid << 32 | fd.
 *
 * Only syscall tracepoints (kprobes and fentry are not available on the hosts we run on).
 * Each traced syscall has an enter program that decides from the kernel file whether the fd
 * is a socket we follow and saves the arguments per thread, and an exit program that reports
 * only what really moved (the return value). The connection state (generation, role,
 * addresses, per-direction byte offsets) lives in the `conns` map.
 *
 * Role of a connection: connect() = client, accept() = server. A socket first seen at a
 * read/write (it existed before we started, or came from a path we do not trace) is a server
 * when its local port is a listening TCP port (`listen_ports`: filled from /proc/net/tcp{,6}
 * by the loader and by listen() here), a client when the peer port is one; else a port in
 * net.ipv4.ip_local_port_range on one side only is the client's; else an unconnected datagram
 * socket that spoke first is a client (one that listened first a server); last, the smaller
 * port is the server's (see role_infer()).
 *
 * Also here: sockets that go away without close() (process exit, exec's close-on-exec) are
 * closed by walking the fd table at sched_process_exit/exec, and the OpenSSL uprobes that
 * report TLS cleartext instead of the ciphertext of the nested syscalls (end of file).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"

char LICENSE[] SEC("license") = "GPL"; /* bpf_probe_read_* and ringbuf helpers are GPL-only */

#define AF_UNIX	       1
#define AF_INET	       2
#define AF_INET6       10
#define SOCK_STREAM    1
#define SOCK_DGRAM     2
#define SOCK_SEQPACKET 5
#define S_IFMT	       00170000
#define S_IFSOCK       0140000
#define EINPROGRESS    115

/* enum dir and enum conn_role of runtime/chunk.h */
#define DIR_REQUEST  0
#define DIR_RESPONSE 1
#define ROLE_UNKNOWN 0
#define ROLE_CLIENT  1
#define ROLE_SERVER  2

/* Set by the loader before load; read-only for the programs. */
const volatile __u32 self_tgid = 0;	    /* wirewatch itself: never traced */
const volatile __u32 target_tgid = 0;	    /* 0 = every process */
const volatile __u32 capture_bytes = 16384; /* payload bytes per event, <= WW_CAPTURE_MAX */
const volatile __u64 wakeup_bytes = 0;	    /* ring fill that wakes the reader; 0 = every event */
const volatile bool capture_unix = true;    /* follow AF_UNIX sockets too */
/* net.ipv4.ip_local_port_range: ports the kernel picks for clients */
const volatile __u16 ephemeral_lo = 32768;
const volatile __u16 ephemeral_hi = 60999;
const volatile __u32 nr_cpus = 1; /* possible CPUs: the uprobe scratch slots follow theirs */

/* Source of connection generations, shared by all CPUs (atomic add). */
__u64 next_generation = 0;

enum sc_op {
	SC_READ = 1, /* read, recvfrom: one buffer */
	SC_WRITE,    /* write, sendto */
	SC_READV,    /* readv: iovec array */
	SC_WRITEV,   /* writev */
	SC_RECVMSG,  /* recvmsg: struct user_msghdr */
	SC_SENDMSG,  /* sendmsg */
	SC_RECVMMSG, /* recvmmsg: struct mmsghdr array, ret = messages */
	SC_SENDMMSG, /* sendmmsg */
	SC_SENDFILE, /* sendfile to a socket: bytes only */
	SC_CONNECT,
	SC_ACCEPT,
	SC_LISTEN,
	SC_CLOSE,
};

/* A syscall in flight, saved at enter for its exit (owner: the thread, key pid_tgid). */
struct args {
	__u64 sk;   /* struct sock * of fd at enter */
	__u64 buf;  /* buffer, iovec array, msghdr or mmsghdr array (user pointer) */
	__u64 addr; /* sockaddr of sendto/recvfrom (user pointer), 0 when none */
	__u32 fd;
	__u32 cnt; /* iovcnt */
	__u16 family;
	__u16 type;
	__u8 op;
	__u8 pad[3];
};

/*
 * A followed socket, key tgid << 32 | fd. Written by whichever CPU runs a syscall on it;
 * byte counters are atomic adds, the rest is written when the entry is created and only read
 * afterwards. LRU: entries of processes that exit without close() age out.
 */
struct conn {
	__u64 sk;	/* the kernel socket: a different one on the same key is a new connection */
	__u64 bytes[2]; /* per direction (enum dir), bytes seen so far */
	__u32 generation;
	__u8 role;
	__u8 flags; /* WW_F_UDP, WW_F_UNIX */
	__u16 sotype;
	struct ww_endpoint local;
	struct ww_endpoint remote;
};

struct scratch {
	__u64 busy; /* uprobe slots only: set while a program assembles an event in it */
	struct ww_event ev;
	/* twice the budget: lets the verifier prove offset + size in bounds for iovec reads */
	__u8 data[2 * WW_CAPTURE_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* possible CPUs, set by the loader */
	__type(key, __u32);
	__array(
		values, struct {
			__uint(type, BPF_MAP_TYPE_RINGBUF);
			__uint(max_entries, 256 * 1024); /* ring_bytes, set by the loader */
		});
} rings SEC(".maps");

/*
 * Event assembly areas: [cpu] for the syscall tracepoint programs, [nr_cpus + cpu] for the
 * uprobes. A plain array rather than a per-CPU one because per-CPU values are limited to
 * 32 KiB. Syscall tracepoint programs run with preemption disabled, so their slot is never
 * used by two programs at once; uprobe programs only have migration disabled and can be
 * preempted by another task's uprobe on the same CPU, so their slot has a busy flag.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2); /* 2 x possible CPUs, set by the loader */
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/*
 * The syscall in flight of each thread: task local storage rather than a hash keyed by
 * pid_tgid, so enter and exit cost no hashing, no bucket lock and no delete, and a thread
 * that dies mid-syscall leaves nothing behind. op == 0 means no saved syscall.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct args);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072);
	__type(key, __u64);
	__type(value, struct conn);
} conns SEC(".maps");

/* TCP ports something listens on (host order); value unused. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u16);
	__type(value, __u8);
} listen_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WW_DROP_NR);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

static __always_inline bool op_is_read(__u8 op)
{
	return op == SC_READ || op == SC_READV || op == SC_RECVMSG || op == SC_RECVMMSG;
}

static __always_inline void drop_count(__u32 what)
{
	__u64 *v = bpf_map_lookup_elem(&drops, &what);

	if (v)
		*v += 1; /* per-CPU slot, preemption disabled: no atomic needed */
}

static __always_inline bool tgid_traced(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	return !target_tgid || tgid == target_tgid;
}

/*
 * The socket behind fd in the current task, or NULL when fd is not a socket of a family and
 * type we follow. Decided from the kernel file: S_ISSOCK on its inode, then the struct socket
 * in private_data (kallsyms-free alternative to comparing f_op with socket_file_ops).
 */
static __always_inline struct sock *fd_sock(__u32 fd, __u16 *family, __u16 *type)
{
	/*
	 * Direct loads through BTF pointers (the verifier makes them fault-safe) cost a few ns
	 * each where a BPF_CORE_READ hop is a helper call, and this runs on every read and write
	 * of every process. The file read out of the fd array is no longer a BTF pointer, so from
	 * there on it is BPF_CORE_READ.
	 */
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	struct file *file = NULL;
	struct socket *sock;
	struct sock *sk;
	umode_t mode;

	if (fd >= fdt->max_fds)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fdt->fd[fd]) || !file)
		return NULL;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return NULL;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	*type = BPF_CORE_READ(sock, type);
	*family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (*type != SOCK_STREAM && *type != SOCK_DGRAM && *type != SOCK_SEQPACKET)
		return NULL;
	if (*family == AF_INET || *family == AF_INET6)
		return sk;
	if (*family == AF_UNIX && capture_unix)
		return sk;
	return NULL;
}

static __always_inline void sk_endpoints(struct sock *sk, __u16 family, struct ww_endpoint *local,
					 struct ww_endpoint *remote)
{
	local->family = family;
	remote->family = family;
	if (family == AF_INET) {
		bpf_core_read(local->addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(remote->addr, 4, &sk->__sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		bpf_core_read(local->addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(remote->addr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		return; /* AF_UNIX: no ports, the path is not read */
	}
	local->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	remote->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/* Peer address from a user sockaddr (datagram sockets); leaves ep alone when unusable. */
static __always_inline void sockaddr_peer(__u64 uaddr, struct ww_endpoint *ep)
{
	struct sockaddr_in6 sa6 = {};

	if (!uaddr)
		return;
	/* read the short form first: the buffer may be a 16-byte sockaddr_in at a page end */
	if (bpf_probe_read_user(&sa6, sizeof(struct sockaddr_in), (void *)uaddr))
		return;
	if (sa6.sin6_family == AF_INET) {
		struct sockaddr_in *sa4 = (struct sockaddr_in *)&sa6;

		ep->family = AF_INET;
		ep->port = bpf_ntohs(sa4->sin_port);
		__builtin_memset(ep->addr, 0, sizeof(ep->addr));
		__builtin_memcpy(ep->addr, &sa4->sin_addr, 4);
	} else if (sa6.sin6_family == AF_INET6) {
		if (bpf_probe_read_user(&sa6, sizeof(sa6), (void *)uaddr))
			return;
		ep->family = AF_INET6;
		ep->port = bpf_ntohs(sa6.sin6_port);
		__builtin_memcpy(ep->addr, &sa6.sin6_addr, 16);
	}
}

static __always_inline bool port_ephemeral(__u16 port)
{
	return port >= ephemeral_lo && port <= ephemeral_hi;
}

/*
 * Role of a socket first seen at a read/write, strongest evidence first: a listening TCP port,
 * an ephemeral port on one side only, for an unconnected datagram socket whether it spoke
 * first (clients send, servers wait), and last the smaller port as the server's.
 */
static __always_inline __u8 role_infer(__u16 local_port, __u16 remote_port, __u16 sotype,
				       bool connected, bool first_is_read)
{
	bool local_listens, remote_listens;

	if (!local_port || !remote_port)
		return ROLE_UNKNOWN;
	if (sotype == SOCK_STREAM) {
		local_listens = bpf_map_lookup_elem(&listen_ports, &local_port) != NULL;
		remote_listens = bpf_map_lookup_elem(&listen_ports, &remote_port) != NULL;
		if (local_listens != remote_listens)
			return local_listens ? ROLE_SERVER : ROLE_CLIENT;
	}
	if (port_ephemeral(local_port) != port_ephemeral(remote_port))
		return port_ephemeral(local_port) ? ROLE_CLIENT : ROLE_SERVER;
	if (sotype == SOCK_DGRAM && !connected)
		return first_is_read ? ROLE_SERVER : ROLE_CLIENT;
	return local_port < remote_port ? ROLE_SERVER : ROLE_CLIENT;
}

/* Unknown role is oriented like a client: what the traced process writes is the request. */
static __always_inline __u8 dir_of(__u8 role, bool is_read)
{
	if (role == ROLE_SERVER)
		return is_read ? DIR_REQUEST : DIR_RESPONSE;
	return is_read ? DIR_RESPONSE : DIR_REQUEST;
}

/* Puts a finished event in this CPU's ring; wakes the reader only past wakeup_bytes. */
static __always_inline void ring_put(void *data, __u64 size)
{
	__u32 cpu = bpf_get_smp_processor_id();
	void *rb = bpf_map_lookup_elem(&rings, &cpu);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (!rb) {
		drop_count(WW_DROP_NO_RING);
		return;
	}
	if (bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) + size >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(rb, data, size, flags))
		drop_count(WW_DROP_RING_FULL);
}

static __always_inline void event_head(struct ww_event *ev, __u64 key, const struct conn *c,
				       __u8 kind, __u8 dir, const struct ww_endpoint *remote)
{
	struct task_struct *leader = bpf_get_current_task_btf()->group_leader;
	const struct ww_endpoint *local = &c->local;

	ev->conn_key = key;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->offset = 0;
	ev->generation = c->generation;
	ev->len = 0;
	ev->len_true = 0;
	ev->pid = key >> 32;
	ev->kind = kind;
	ev->dir = dir;
	ev->role = c->role;
	ev->flags = c->flags;
	ev->tid = (__u32)bpf_get_current_pid_tgid();
	/* the process's name, not the thread's: a server's worker threads have their own */
	bpf_probe_read_kernel(ev->comm, sizeof(ev->comm), leader->comm);
	if (c->role == ROLE_SERVER) {
		ev->src = *remote;
		ev->dst = *local;
	} else {
		ev->src = *local;
		ev->dst = *remote;
	}
}

static __noinline void emit_state(__u64 key, const struct conn *c, __u8 kind)
{
	struct ww_event ev = {};

	event_head(&ev, key, c, kind, DIR_REQUEST, &c->remote);
	ring_put(&ev, sizeof(ev));
}

/* Where the bytes of one message are, and who the datagram peer was (family 0: none). */
struct io {
	__u64 buf; /* one buffer, or 0 */
	__u64 iov; /* iovec array, or 0 */
	__u32 cnt;
	__u8 no_payload; /* bytes moved, content not capturable (sendfile) */
	__u8 uprobe;	 /* called from a uprobe: use the uprobe scratch slot */
	__u8 pad[2];
	struct ww_endpoint peer;
};

/*
 * A new connection on key: replaces (and closes) whatever was there, emits OPEN. An
 * unconnected datagram socket has no remote end of its own: peer (the first message's) stands
 * in for the role decision.
 */
static __noinline struct conn *conn_open(__u64 key, const struct args *a, __u8 role,
					 const struct ww_endpoint *peer)
{
	struct sock *sk = (struct sock *)a->sk;
	__u16 family = a->family;
	__u16 sotype = a->type;
	struct conn *old = bpf_map_lookup_elem(&conns, &key);
	struct conn c = {};
	__u16 remote_port;

	/* a connection still on this key: its close() was not seen (dup2, close_range, ...) */
	if (old)
		emit_state(key, old, WW_KIND_CLOSE);
	c.sk = (__u64)sk;
	c.generation = (__u32)__sync_fetch_and_add(&next_generation, 1) + 1;
	c.sotype = sotype;
	if (family == AF_UNIX)
		c.flags |= WW_F_UNIX;
	else if (sotype == SOCK_DGRAM)
		c.flags |= WW_F_UDP;
	sk_endpoints(sk, family, &c.local, &c.remote);
	remote_port = c.remote.port ? c.remote.port : peer->port;
	if (role == ROLE_UNKNOWN)
		role = role_infer(c.local.port, remote_port, sotype, c.remote.port != 0,
				  op_is_read(a->op));
	c.role = role;
	if (!c.remote.port && peer->family)
		c.remote = *peer; /* unconnected datagrams: the first peer names the connection */
	if (bpf_map_update_elem(&conns, &key, &c, BPF_ANY)) {
		drop_count(WW_DROP_CONN_FULL);
		return NULL;
	}
	old = bpf_map_lookup_elem(&conns, &key);
	if (old)
		emit_state(key, old, WW_KIND_OPEN);
	return old;
}

/* The connection on key for the socket saved in a, created (first sight) when missing or stale. */
static __always_inline struct conn *conn_get(__u64 key, const struct args *a,
					     const struct ww_endpoint *peer)
{
	struct conn *c = bpf_map_lookup_elem(&conns, &key);

	if (c && c->sk == a->sk)
		return c;
	return conn_open(key, a, ROLE_UNKNOWN, peer);
}

/* State of one iovec walk, on the caller's stack (bpf_loop callback context). */
struct iov_walk {
	__u64 uiov; /* user iovec array */
	__u32 slot; /* scratch slot */
	__u32 pad;
	__u32 cnt;
	__u32 budget;
	__u32 copied;
	__s32 err;
};

/*
 * One iovec into this CPU's scratch payload. A bpf_loop callback rather than an unrolled loop:
 * the verifier checks it once, where an unrolled walk with a precise byte count per iteration
 * exceeds its 1M-instruction budget.
 */
static long iov_step(__u32 i, void *arg)
{
	struct iov_walk *w = arg;
	struct scratch *s;
	struct iovec iov;
	__u32 off;
	__u64 n;

	if (i >= w->cnt || w->copied >= w->budget)
		return 1;
	s = bpf_map_lookup_elem(&scratch, &w->slot);
	if (!s || bpf_probe_read_user(&iov, sizeof(iov), (struct iovec *)w->uiov + i)) {
		w->err = -1;
		return 1;
	}
	n = iov.iov_len;
	if (n > w->budget - w->copied)
		n = w->budget - w->copied;
	if (!n)
		return 0;
	/* both always hold (copied < budget <= WW_CAPTURE_MAX); said for the verifier */
	off = w->copied & (WW_CAPTURE_MAX - 1);
	if (n > WW_CAPTURE_MAX)
		n = WW_CAPTURE_MAX;
	if (bpf_probe_read_user(s->data + off, n, iov.iov_base)) {
		w->err = -1;
		return 1;
	}
	w->copied += n;
	return 0;
}

/* Copies up to budget bytes of an iovec array into the scratch payload; -1 when unreadable. */
static __always_inline long iov_copy(__u32 slot, __u64 uiov, __u32 cnt, __u32 budget)
{
	struct iov_walk w = {.uiov = uiov, .slot = slot, .cnt = cnt, .budget = budget};

	bpf_loop(WW_IOV_MAX, iov_step, &w, 0);
	if (w.err)
		return -1;
	if (cnt > WW_IOV_MAX && w.copied < budget)
		drop_count(WW_DROP_IOV_CUT);
	return w.copied;
}

/*
 * One DATA (or GAP) event for len_true bytes that moved on c: payload from io->buf (one
 * buffer) or io->iov (iovec array), none for no_payload, a GAP when neither is readable.
 * io->peer, when set, is the remote end of this datagram.
 */
static __noinline void emit_data(__u64 key, struct conn *c, bool is_read, const struct io *io,
				 __u32 len_true)
{
	const struct ww_endpoint *remote = io->peer.family ? &io->peer : &c->remote;
	__u32 slot = bpf_get_smp_processor_id() + (io->uprobe ? nr_cpus : 0);
	struct scratch *s = bpf_map_lookup_elem(&scratch, &slot);
	__u8 dir = dir_of(c->role, is_read);
	__u32 budget = capture_bytes;
	long len = 0;

	if (!s)
		return;
	if (io->uprobe && __sync_lock_test_and_set(&s->busy, 1)) {
		drop_count(WW_DROP_SCRATCH_BUSY);
		return;
	}
	event_head(&s->ev, key, c, WW_KIND_DATA, dir, remote);
	s->ev.len_true = len_true;
	/* two constant offsets: an indexed atomic on a map value loses its bounds in the verifier */
	if (dir == DIR_REQUEST)
		s->ev.offset = __sync_fetch_and_add(&c->bytes[DIR_REQUEST], len_true);
	else
		s->ev.offset = __sync_fetch_and_add(&c->bytes[DIR_RESPONSE], len_true);
	if (budget > WW_CAPTURE_MAX)
		budget = WW_CAPTURE_MAX;
	if (budget > len_true)
		budget = len_true;
	if (io->no_payload) {
		s->ev.flags |= WW_F_NO_PAYLOAD;
	} else if (io->iov) {
		len = iov_copy(slot, io->iov, io->cnt, budget);
	} else if (io->buf) {
		len = budget;
		barrier_var(len);
		if (len > WW_CAPTURE_MAX)
			len = WW_CAPTURE_MAX;
		if (len > 0 && bpf_probe_read_user(s->data, len, (void *)io->buf))
			len = -1;
	} else {
		len = -1;
	}
	if (len < 0) {
		/* the bytes moved but are not readable now (page not present): say so exactly */
		drop_count(WW_DROP_READ_FAIL);
		s->ev.kind = WW_KIND_GAP;
		len = 0;
	} else if (!io->no_payload && len < len_true) {
		s->ev.flags |= WW_F_TRUNCATED;
	}
	barrier_var(len);
	if (len > WW_CAPTURE_MAX)
		len = WW_CAPTURE_MAX;
	s->ev.len = len;
	ring_put(&s->ev, sizeof(s->ev) + len);
	if (io->uprobe)
		*(volatile __u64 *)&s->busy = 0; /* after the helper call: nothing moves past it */
}

/* ---- enter: filter and save the arguments ---- */

static __always_inline void args_save(const struct args *a)
{
	struct args *slot = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
						 BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (slot)
		*slot = *a;
	else
		drop_count(WW_DROP_ARGS_FULL); /* no memory for this thread's slot */
}

static __always_inline int enter_io(__u32 fd, __u64 buf, __u64 addr, __u32 cnt, __u8 op)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args a = {};
	struct sock *sk;

	if (!tgid_traced(id >> 32))
		return 0;
	sk = fd_sock(fd, &a.family, &a.type);
	if (!sk)
		return 0;
	a.sk = (__u64)sk;
	a.buf = buf;
	a.addr = addr;
	a.fd = fd;
	a.cnt = cnt;
	a.op = op;
	args_save(&a);
	return 0;
}

/* Takes (and clears) the saved arguments of this thread's syscall. */
static __always_inline bool args_take(struct args *out)
{
	struct args *a = bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0, 0);

	if (!a || !a->op)
		return false;
	*out = *a;
	a->op = 0;
	return true;
}

static __always_inline __u64 conn_key(__u32 fd)
{
	return (bpf_get_current_pid_tgid() & 0xffffffff00000000ull) | fd;
}

/*
 * ---- TLS: OpenSSL's cleartext through uprobes ----
 *
 * SSL_read/SSL_write (and the _ex variants) save their buffer at entry in the thread's
 * tls_inflight slot; the socket syscall OpenSSL makes inside the call names the fd (no struct
 * offsets of OpenSSL needed), marks the connection TLS and is not reported itself (it is
 * ciphertext); the return probe reports the cleartext. SSL_do_handshake is probed too, so
 * the handshake's records never reach the parsers and the cleartext starts at offset 0 (when
 * the connection is seen from its start). ssl_fds remembers the fd of each SSL
 * object for calls served from OpenSSL's buffer without a syscall.
 */
enum tls_op {
	TLS_READ = 1,
	TLS_WRITE = 2,
	TLS_HANDSHAKE = 3, /* its records are not cleartext: suppressed, nothing reported */
};

struct tls_call {
	__u64 ssl;
	__u64 buf;
	__u64 len_ptr; /* size_t * of SSL_read_ex/SSL_write_ex, 0 for SSL_read/SSL_write */
	__u32 fd;
	__u8 op; /* enum tls_op, 0 = none in flight */
	__u8 has_fd;
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tls_call);
} tls_inflight SEC(".maps");

struct ssl_key {
	__u64 ssl;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ssl_key);
	__type(value, __u32);
} ssl_fds SEC(".maps");

/*
 * A socket syscall's bytes are ciphertext when it runs inside an SSL call of this thread (the
 * call learns its fd here), or when its connection already carries TLS (handshake, alerts).
 */
static __always_inline bool tls_ciphertext(__u32 fd, struct conn *c)
{
	struct tls_call *t = bpf_task_storage_get(&tls_inflight, bpf_get_current_task_btf(), 0, 0);

	if (t && t->op) {
		t->fd = fd;
		t->has_fd = 1;
		c->flags |= WW_F_TLS;
		return true;
	}
	return c->flags & WW_F_TLS;
}

/* ---- exit: report what moved ---- */

static __always_inline void io_from_msghdr(struct io *io, const struct args *a, __u64 umsg)
{
	struct user_msghdr msg;

	if (bpf_probe_read_user(&msg, sizeof(msg), (void *)umsg)) {
		io->iov = 0;
		io->buf = 0; /* reported as a GAP: the bytes moved, their place is unknown */
		return;
	}
	io->iov = (__u64)msg.msg_iov;
	io->cnt = msg.msg_iovlen;
	/* stream sockets leave msg_name untouched: only datagrams say who the peer is */
	if (a->type == SOCK_DGRAM && msg.msg_name && msg.msg_namelen > 0)
		sockaddr_peer((__u64)msg.msg_name, &io->peer);
}

static __always_inline int exit_io(long ret)
{
	struct io io = {};
	struct args a;
	struct conn *c;
	__u64 key;

	if (!args_take(&a) || ret <= 0)
		return 0;
	switch (a.op) {
	case SC_READ:
	case SC_WRITE:
		io.buf = a.buf;
		if (a.type == SOCK_DGRAM)
			sockaddr_peer(a.addr, &io.peer);
		break;
	case SC_READV:
	case SC_WRITEV:
		io.iov = a.buf;
		io.cnt = a.cnt;
		break;
	case SC_RECVMSG:
	case SC_SENDMSG:
		io_from_msghdr(&io, &a, a.buf);
		break;
	case SC_SENDFILE:
		io.no_payload = 1;
		break;
	}
	key = conn_key(a.fd);
	c = conn_get(key, &a, &io.peer);
	if (c && !tls_ciphertext(a.fd, c))
		emit_data(key, c, op_is_read(a.op), &io, ret);
	return 0;
}

/* recvmmsg/sendmmsg: ret is the number of messages; one event per message (bounded). */
static __always_inline int exit_mmsg(long ret)
{
	struct conn *c = NULL;
	struct args a;
	__u64 key;
	__u32 i;

	if (!args_take(&a) || ret <= 0)
		return 0;
	key = conn_key(a.fd);
	for (i = 0; i < WW_MMSG_MAX; i++) {
		struct mmsghdr *um = (struct mmsghdr *)a.buf + i;
		struct io io = {};
		__u32 len = 0;

		if (i >= ret)
			break;
		if (bpf_probe_read_user(&len, sizeof(len), &um->msg_len) || !len)
			continue;
		io_from_msghdr(&io, &a, (__u64)&um->msg_hdr);
		if (!c)
			c = conn_get(key, &a, &io.peer);
		if (!c || tls_ciphertext(a.fd, c))
			return 0;
		emit_data(key, c, a.op == SC_RECVMMSG, &io, len);
	}
	if (ret > WW_MMSG_MAX)
		drop_count(WW_DROP_IOV_CUT);
	return 0;
}

#define TP_ENTER(sys) SEC("tracepoint/syscalls/sys_enter_" #sys) int tp_enter_##sys
#define TP_EXIT(sys)  SEC("tracepoint/syscalls/sys_exit_" #sys) int tp_exit_##sys
/* struct names, not typedefs: CO-RE relocations must name types the kernel's BTF has */
#define enter_ctx struct trace_event_raw_sys_enter
#define exit_ctx  struct trace_event_raw_sys_exit

/* read(fd, buf, count) */
TP_ENTER(read)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], ctx->args[1], 0, 0, SC_READ);
}
TP_EXIT(read)(exit_ctx *ctx)
{
	return exit_io(ctx->ret);
}
/* write(fd, buf, count) */
TP_ENTER(write)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], ctx->args[1], 0, 0, SC_WRITE);
}
TP_EXIT(write)(exit_ctx *ctx)
{
	return exit_io(ctx->ret);
}
/* readv(fd, iov, iovcnt) */
TP_ENTER(readv)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], ctx->args[1], 0, ctx->args[2], SC_READV);
}
TP_EXIT(readv)(exit_ctx *ctx)
{
	return exit_io(ctx->ret);
}
/* writev(fd, iov, iovcnt) */
TP_ENTER(writev)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], ctx->args[1], 0, ctx->args[2], SC_WRITEV);
}
TP_EXIT(writev)(exit_ctx *ctx)
{
	return exit_io(ctx->ret);
}
/*
 * MSG_PEEK reads bytes without taking them off the socket (nginx peeks at the first byte
 * to tell TLS from plain HTTP): the same bytes come again with the real read, so a peek
 * is not traffic and is not captured.
 */
#define WW_MSG_PEEK 0x2

/* recvfrom(fd, buf, len, flags, addr, addrlen) */
TP_ENTER(recvfrom)(enter_ctx *ctx)
{
	if (ctx->args[3] & WW_MSG_PEEK)
		return 0;
	return enter_io(ctx->args[0], ctx->args[1], ctx->args[4], 0, SC_READ);
}
TP_EXIT(recvfrom)(exit_ctx *ctx)
{
	return exit_io(ctx->ret);
}
/* sendto(fd, buf, len, flags, addr, addrlen) */
TP_ENTER(sendto)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], ctx->args[1], ctx->args[4], 0, SC_WRITE);
}
TP_EXIT(sendto)(exit_ctx *ctx)
{
	return exit_io(ctx->ret);
}
/* recvmsg(fd, msg, flags) */
TP_ENTER(recvmsg)(enter_ctx *ctx)
{
	if (ctx->args[2] & WW_MSG_PEEK)
		return 0;
	return enter_io(ctx->args[0], ctx->args[1], 0, 0, SC_RECVMSG);
}
TP_EXIT(recvmsg)(exit_ctx *ctx)
{
	return exit_io(ctx->ret);
}
/* sendmsg(fd, msg, flags) */
TP_ENTER(sendmsg)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], ctx->args[1], 0, 0, SC_SENDMSG);
}
TP_EXIT(sendmsg)(exit_ctx *ctx)
{
	return exit_io(ctx->ret);
}
/* recvmmsg(fd, mmsg, vlen, flags, timeout) */
TP_ENTER(recvmmsg)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], ctx->args[1], 0, ctx->args[2], SC_RECVMMSG);
}
TP_EXIT(recvmmsg)(exit_ctx *ctx)
{
	return exit_mmsg(ctx->ret);
}
/* sendmmsg(fd, mmsg, vlen, flags) */
TP_ENTER(sendmmsg)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], ctx->args[1], 0, ctx->args[2], SC_SENDMMSG);
}
TP_EXIT(sendmmsg)(exit_ctx *ctx)
{
	return exit_mmsg(ctx->ret);
}
/* sendfile64(out_fd, in_fd, offset, count): bytes to a socket, content not captured */
TP_ENTER(sendfile64)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], 0, 0, 0, SC_SENDFILE);
}
TP_EXIT(sendfile64)(exit_ctx *ctx)
{
	return exit_io(ctx->ret);
}

/* connect(fd, addr, addrlen): client side; a non-blocking connect counts from EINPROGRESS */
TP_ENTER(connect)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], 0, 0, 0, SC_CONNECT);
}
TP_EXIT(connect)(exit_ctx *ctx)
{
	struct ww_endpoint none = {};
	struct args a;

	if (!args_take(&a) || (ctx->ret != 0 && ctx->ret != -EINPROGRESS))
		return 0;
	conn_open(conn_key(a.fd), &a, ROLE_CLIENT, &none);
	return 0;
}

/* accept(fd, ...) / accept4(fd, ...): server side; the new fd is the return value */
static __always_inline int exit_accept(long ret)
{
	struct ww_endpoint none = {};
	struct args a;
	struct sock *sk;

	if (!args_take(&a) || ret < 0)
		return 0;
	sk = fd_sock(ret, &a.family, &a.type);
	if (!sk)
		return 0;
	a.sk = (__u64)sk;
	conn_open(conn_key(ret), &a, ROLE_SERVER, &none);
	return 0;
}
TP_ENTER(accept)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], 0, 0, 0, SC_ACCEPT);
}
TP_EXIT(accept)(exit_ctx *ctx)
{
	return exit_accept(ctx->ret);
}
TP_ENTER(accept4)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], 0, 0, 0, SC_ACCEPT);
}
TP_EXIT(accept4)(exit_ctx *ctx)
{
	return exit_accept(ctx->ret);
}

/* listen(fd, backlog): its port marks first-seen connections on it as server side */
TP_ENTER(listen)(enter_ctx *ctx)
{
	return enter_io(ctx->args[0], 0, 0, 0, SC_LISTEN);
}
TP_EXIT(listen)(exit_ctx *ctx)
{
	struct sock *sk;
	struct args a;
	__u16 port;
	__u8 one = 1;

	if (!args_take(&a) || ctx->ret != 0 || a.type != SOCK_STREAM || a.family == AF_UNIX)
		return 0;
	sk = (struct sock *)a.sk; /* a plain local: BPF_CORE_READ would relocate a.sk too */
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (port)
		bpf_map_update_elem(&listen_ports, &port, &one, BPF_ANY);
	return 0;
}

/*
 * io_uring moves socket bytes without read/write syscalls, so the tracepoints above never
 * see them. Following each submission into the ring is not feasible with tracepoints and
 * uprobes alone; every io_uring_enter of a traced process is counted instead, so such
 * traffic shows up as a number rather than as silence.
 */
TP_ENTER(io_uring_enter)(enter_ctx *ctx)
{
	(void)ctx;
	if (tgid_traced(bpf_get_current_pid_tgid() >> 32))
		drop_count(WW_DROP_IO_URING);
	return 0;
}

/* close(fd): only fds with a connection are saved, so other closes cost one lookup */
TP_ENTER(close)(enter_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 fd = ctx->args[0];
	__u64 key = (id & 0xffffffff00000000ull) | fd;
	struct args a = {};

	if (!bpf_map_lookup_elem(&conns, &key))
		return 0;
	a.fd = fd;
	a.op = SC_CLOSE;
	args_save(&a);
	return 0;
}
TP_EXIT(close)(exit_ctx *ctx)
{
	struct args a;
	struct conn *c;
	__u64 key;

	if (!args_take(&a) || ctx->ret != 0)
		return 0;
	key = conn_key(a.fd);
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c)
		return 0;
	emit_state(key, c, WW_KIND_CLOSE);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/*
 * ---- process exit and exec: sockets that go away without a close() ----
 *
 * A process that exits lets the kernel close its files without a close() syscall, and exec
 * closes its close-on-exec fds the same way. Both walk the fd table (bounded by its size, so a
 * short-lived process costs a few dozen map lookups) and close the connections that went.
 */
#define WW_FD_WALK_MAX 65536

struct fd_walk {
	__u64 tgid_key; /* tgid << 32 */
	bool exiting;	/* every connection goes; else only those whose socket is not there */
};

static long fd_walk_step(__u32 fd, void *arg)
{
	struct fd_walk *w = arg;
	__u64 key = w->tgid_key | fd;
	struct conn *c = bpf_map_lookup_elem(&conns, &key);
	__u16 family, type;

	if (!c)
		return 0;
	if (!w->exiting && (__u64)fd_sock(fd, &family, &type) == c->sk)
		return 0;
	emit_state(key, c, WW_KIND_CLOSE);
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

static __always_inline int fd_walk(bool exiting)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	struct fd_walk w = {.tgid_key = id & 0xffffffff00000000ull, .exiting = exiting};
	__u32 n;

	if (!tgid_traced(id >> 32))
		return 0;
	n = BPF_CORE_READ(task, files, fdt, max_fds);
	if (n > WW_FD_WALK_MAX)
		n = WW_FD_WALK_MAX;
	bpf_loop(n, fd_walk_step, &w, 0);
	return 0;
}

/*
 * ---- processes: fork, exec and exit feed the process table (bpf/proc_table.c) ----
 *
 * One event per process (threads are not processes: their fork is skipped, and exit is
 * reported with the last thread). Every event carries what identifies the process at that
 * moment (parent, uids, cgroup, start time, comm), so user space can make an entry out of any
 * one of them, even for a process it never saw start. Not filtered by target_tgid: the table
 * also names the parents and the processes a --pid run does not capture.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024); /* ~1000 events; the loader drains it continuously */
} proc_events SEC(".maps");

/* Reserves a process event for task (a thread group leader) and fills its common part. */
static __always_inline struct ww_proc_event *proc_event_new(struct task_struct *task, __u8 kind)
{
	struct ww_proc_event *e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);
	struct kernfs_node *kn;

	if (!e) {
		drop_count(WW_DROP_PROC_RING_FULL);
		return NULL;
	}
	/* ring memory is not zeroed: every field is written, strings at least terminated */
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->start_ns = BPF_CORE_READ(task, start_boottime);
	e->pid = BPF_CORE_READ(task, tgid);
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	/* the objective credentials, what /proc/PID/status shows */
	e->uid = BPF_CORE_READ(task, real_cred, uid.val);
	e->euid = BPF_CORE_READ(task, real_cred, euid.val);
	e->exit_code = 0;
	e->args_len = 0;
	e->kind = kind;
	e->args_truncated = 0;
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), task->comm);
	e->filename[0] = '\0';
	e->args[0] = '\0';
	kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	e->cgroup_id = kn ? BPF_CORE_READ(kn, id) : 0;
	e->cgroup[0] = '\0';
	if (kn)
		bpf_probe_read_kernel_str(e->cgroup, sizeof(e->cgroup), BPF_CORE_READ(kn, name));
	return e;
}

/* BTF tracepoint: the classic one names the child by its thread id only. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(tp_process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct ww_proc_event *e;

	if (child->pid != child->tgid)
		return 0; /* a new thread of an existing process */
	e = proc_event_new(child, WW_PROC_FORK);
	if (e)
		bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int tp_process_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct ww_proc_event *e;

	/* threads exit one by one; the files go with the last (signal->live already dropped) */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	/* the last thread need not be the leader, which may have exited (zombie) before it */
	e = proc_event_new(BPF_CORE_READ(task, group_leader), WW_PROC_EXIT);
	if (e) {
		e->exit_code = BPF_CORE_READ(task, exit_code);
		bpf_ringbuf_submit(e, 0);
	}
	return fd_walk(true);
}

/* exec: de_thread() has made current the leader, the new comm, creds and argv are in place */
SEC("tracepoint/sched/sched_process_exec")
int tp_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct ww_proc_event *e = proc_event_new(task, WW_PROC_EXEC);
	__u64 arg_start, arg_end, len;

	if (e) {
		bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
					  (void *)ctx + (ctx->__data_loc_filename & 0xffff));
		arg_start = BPF_CORE_READ(task, mm, arg_start);
		arg_end = BPF_CORE_READ(task, mm, arg_end);
		len = arg_end > arg_start ? arg_end - arg_start : 0;
		if (len > WW_PROC_ARGS_MAX) {
			len = WW_PROC_ARGS_MAX;
			e->args_truncated = 1;
		}
		barrier_var(len);
		if (len > WW_PROC_ARGS_MAX)
			len = WW_PROC_ARGS_MAX;
		/* argv was just copied onto the new stack: resident, readable from here */
		if (len && bpf_probe_read_user(e->args, len, (void *)arg_start) == 0)
			e->args_len = len;
		bpf_ringbuf_submit(e, 0);
	}
	return fd_walk(false);
}

/* ---- TLS uprobes (attached per libssl by the loader) ---- */

static __always_inline int tls_enter(void *ssl, const void *buf, void *len_ptr, __u8 op)
{
	struct tls_call *t;

	if (!tgid_traced(bpf_get_current_pid_tgid() >> 32))
		return 0;
	t = bpf_task_storage_get(&tls_inflight, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t) {
		drop_count(WW_DROP_ARGS_FULL);
		return 0;
	}
	t->ssl = (__u64)ssl;
	t->buf = (__u64)buf;
	t->len_ptr = (__u64)len_ptr;
	t->fd = 0;
	t->has_fd = 0;
	t->op = op;
	return 0;
}

static __always_inline int tls_exit(long ret)
{
	struct tls_call *t = bpf_task_storage_get(&tls_inflight, bpf_get_current_task_btf(), 0, 0);
	struct io io = {.uprobe = 1};
	struct tls_call call;
	struct ssl_key k = {};
	struct conn *c;
	__u64 n, key;
	__u32 *fdp;

	if (!t || !t->op)
		return 0;
	call = *t;
	t->op = 0;
	k.ssl = call.ssl;
	k.tgid = bpf_get_current_pid_tgid() >> 32;
	if (call.op == TLS_HANDSHAKE) {
		if (call.has_fd)
			bpf_map_update_elem(&ssl_fds, &k, &call.fd, BPF_ANY);
		return 0;
	}
	if (call.len_ptr) {
		/* SSL_read_ex/SSL_write_ex: 1 on success, the count behind the pointer */
		if (ret != 1 || bpf_probe_read_user(&n, sizeof(n), (void *)call.len_ptr))
			return 0;
	} else {
		if (ret <= 0)
			return 0;
		n = ret;
	}
	if (!n)
		return 0;
	if (call.has_fd) {
		bpf_map_update_elem(&ssl_fds, &k, &call.fd, BPF_ANY);
	} else {
		fdp = bpf_map_lookup_elem(&ssl_fds, &k);
		if (!fdp) {
			drop_count(
				WW_DROP_TLS_NO_FD); /* e.g. a memory BIO, or no syscall seen yet */
			return 0;
		}
		call.fd = *fdp;
	}
	key = ((__u64)k.tgid << 32) | call.fd;
	c = bpf_map_lookup_elem(&conns, &key);
	if (!c) {
		drop_count(WW_DROP_TLS_NO_FD);
		return 0;
	}
	c->flags |= WW_F_TLS;
	io.buf = call.buf;
	emit_data(key, c, call.op == TLS_READ, &io, n);
	return 0;
}

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf, int num)
{
	return tls_enter(ssl, buf, NULL, TLS_READ);
}
SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit, int ret)
{
	return tls_exit(ret);
}
/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, const void *buf, int num)
{
	return tls_enter(ssl, buf, NULL, TLS_WRITE);
}
SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_exit, int ret)
{
	return tls_exit(ret);
}
/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return tls_enter(ssl, buf, readbytes, TLS_READ);
}
SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_exit, int ret)
{
	return tls_exit(ret);
}
/* int SSL_write_ex(SSL *ssl, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, const void *buf, size_t num, size_t *written)
{
	return tls_enter(ssl, buf, written, TLS_WRITE);
}
SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_exit, int ret)
{
	return tls_exit(ret);
}
/* int SSL_do_handshake(SSL *ssl): SSL_connect and SSL_accept go through it */
SEC("uprobe")
int BPF_KPROBE(ssl_handshake_enter, void *ssl)
{
	return tls_enter(ssl, NULL, NULL, TLS_HANDSHAKE);
}
SEC("uretprobe")
int BPF_KRETPROBE(ssl_handshake_exit, int ret)
{
	return tls_exit(ret);
}
