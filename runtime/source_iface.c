/*
 * The live interface source (see source_iface.h): --source iface:NAME.
 *
 * Each reader thread owns one AF_PACKET socket with a TPACKET_V3 receive ring
 * (packet(7) "Packet MMAP", Documentation/networking/packet_mmap.rst): the kernel fills
 * fixed-size blocks with many frames each and hands a whole block to user space when it
 * is full or its retire timer expires, so one wakeup and one status flip serve thousands
 * of packets, and nothing is copied or allocated per packet on our side. The sockets are
 * joined in one PACKET_FANOUT group of type PACKET_FANOUT_HASH: the kernel picks the
 * reader by the symmetric flow hash (__skb_get_hash_symmetric since Linux 4.7), so both
 * directions of a connection reach the same reader, whose packet decoder and TCP
 * reassembly (the pcap source's, unchanged) then see the whole conversation in order.
 * PACKET_FANOUT_FLAG_DEFRAG has the kernel reassemble IPv4 fragments before hashing,
 * since only the first fragment carries the ports.
 *
 * Ring memory: capture.ring_bytes (the same key that sizes the eBPF source's per-CPU
 * ring) per reader, at least IFACE_MIN_BLOCKS blocks of IFACE_BLOCK_MIN bytes.
 * Losses: the kernel counts frames it had no room for in the ring (PACKET_STATISTICS:
 * tp_drops, tp_freeze_q_cnt); the readers read those every second and at the end, add
 * them to the iface_* counters and to source_drops_total.
 *
 * Owner: one struct iface_reader per reader thread; open() and close() run on the main
 * thread before the readers start and after they stopped. The ring is shared with the
 * kernel under the protocol of packet_mmap.rst: a block whose block_status has
 * TP_STATUS_USER is ours (acquire load), and writing TP_STATUS_KERNEL hands it back
 * (release store); the reader never touches a block it does not own.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emit.h"
#include "packet_decode.h"
#include "source_iface.h"
#include "tcp_reassembly.h"

#define IFACE_READERS_MAX  64 /* counter blocks are static (counters.h: live until exit) */
#define IFACE_READERS_AUTO 2  /* runtime.readers 0: min(CPUs, this) */
#define IFACE_BLOCK_MIN	   (128u << 10) /* holds a 64 KiB GRO/TSO frame with its headers */
#define IFACE_BLOCK_MAX	   (4u << 20)
#define IFACE_MIN_BLOCKS   8
#define IFACE_BLOCKS_WANT  32	/* more, smaller blocks: a timed-out block wastes less */
#define IFACE_FRAME_BYTES  2048 /* only for the ring's arithmetic in V3 (packet_mmap.rst) */
#define IFACE_RETIRE_MS	   10	/* a partly filled block is handed over after this long */
#define IFACE_POLL_MS	   100	/* stop flag, idle expiry and kernel statistics cadence */
#define IFACE_TICK_NS	   1000000000ull
#define IFACE_FRAG_SLOTS   32 /* IPv6 datagrams in reassembly (IPv4: the kernel does it) */
#define IFACE_FILTER_MAX   4096
#define IFACE_SNAPLEN	   262144 /* libpcap's MAXIMUM_SNAPLEN: the filter's "ret #snaplen" */

enum iface_counter {
	IFACE_KERNEL_PACKETS,
	IFACE_KERNEL_DROPS,
	IFACE_KERNEL_FREEZES,
	IFACE_FRAMES,
	IFACE_BYTES,
	IFACE_OUTGOING_SKIPPED,
	IFACE_BAD_FRAMES,
	IFACE_CHUNK_DROPS,
	IFACE_COUNTERS,
};

static const struct counter_def iface_counter_defs[IFACE_COUNTERS] = {
	[IFACE_KERNEL_PACKETS] = {"iface_kernel_packets_total",
				  "Frames the kernel offered to the capture ring after the filter, "
				  "drops included (PACKET_STATISTICS tp_packets)"},
	[IFACE_KERNEL_DROPS] = {"iface_kernel_drops_total",
				"Frames the kernel dropped because the capture ring was full "
				"(PACKET_STATISTICS tp_drops)"},
	[IFACE_KERNEL_FREEZES] = {"iface_kernel_freeze_q_total",
				  "Times the kernel found the capture ring full and froze it "
				  "(PACKET_STATISTICS tp_freeze_q_cnt)"},
	[IFACE_FRAMES] = {"iface_frames_total", "Frames read from the capture rings"},
	[IFACE_BYTES] = {"iface_bytes_total", "Captured bytes of the frames read"},
	[IFACE_OUTGOING_SKIPPED] = {"iface_outgoing_skipped_total",
				    "Outgoing copies skipped on a loopback interface (each packet "
				    "is also seen incoming; not a loss)"},
	[IFACE_BAD_FRAMES] = {"iface_bad_frames_total",
			      "Ring blocks whose frame headers point outside the block (rest of "
			      "the block skipped)"},
	[IFACE_CHUNK_DROPS] = {"iface_chunk_drops_total",
			       "Stream events dropped because the chunk pool was empty"},
};

/*
 * Counter blocks live until exit (counters.h), so they are static, one set per reader
 * index, registered by the first open that needs them; each is written by its reader only.
 */
static uint64_t iface_counters[IFACE_READERS_MAX][IFACE_COUNTERS];
static uint64_t iface_pkt_counters[IFACE_READERS_MAX][PKT_COUNTERS];
static uint64_t iface_reasm_counters[IFACE_READERS_MAX][REASM_COUNTERS];
static uint32_t counters_registered; /* reader indexes below this are registered */

/* Set by main before the runtime starts, read-only afterwards. */
static char filter_expr[IFACE_FILTER_MAX];

struct iface_source;

struct iface_reader {
	int fd;
	uint8_t *ring; /* nblocks * block_bytes, mmap'd from the socket */
	uint32_t block_bytes;
	uint32_t nblocks;
	uint32_t next_block; /* the block the kernel fills after the one we last released */
	uint64_t *counters;  /* [IFACE_COUNTERS] */
	uint64_t *pkt_counters;
	uint64_t *reasm_counters;
	struct pkt_decoder dec;
	struct reasm *reasm;
	struct reasm_config rcfg;
	struct reader *rd; /* during run() */
	const struct iface_source *is;
};

struct iface_source {
	char name[IFNAMSIZ];
	int ifindex;
	enum pkt_link link;
	bool loopback;
	uint32_t nreaders;
	struct iface_reader r[];
};

int iface_source_set_filter(const char *expr)
{
	if (!expr || !*expr) {
		filter_expr[0] = '\0';
		return 0;
	}
	if (strlen(expr) >= sizeof(filter_expr)) {
		fprintf(stderr, "wirewatch: --filter: expression longer than %d bytes\n",
			IFACE_FILTER_MAX - 1);
		return -EINVAL;
	}
	snprintf(filter_expr, sizeof(filter_expr), "%s", expr);
	return 0;
}

static int register_counters(uint32_t n)
{
	for (; counters_registered < n; counters_registered++) {
		uint32_t i = counters_registered;
		char label[16];
		int ret;

		snprintf(label, sizeof(label), "%u", i);
		ret = counters_register("reader", label, iface_counter_defs, IFACE_COUNTERS,
					iface_counters[i]);
		if (!ret)
			ret = counters_register("reader", label, pkt_counter_defs, PKT_COUNTERS,
						iface_pkt_counters[i]);
		if (!ret)
			ret = counters_register("reader", label, reasm_counter_defs, REASM_COUNTERS,
						iface_reasm_counters[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* Copies one stream event into a chunk (reader thread; the event is a borrowed view). */
static void iface_emit(void *arg, const struct reasm_event *ev)
{
	struct iface_reader *r = arg;
	if (reasm_event_emit(r->rd, ev) < 0) {
		/* the worker sees the offset jump and counts the bytes as lost */
		counter_add(&r->counters[IFACE_CHUNK_DROPS], 1);
		reader_count_source_drop(r->rd, 1);
	}
}

static uint32_t online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (uint32_t)n : 1;
}

/*
 * The link type of the interface, from its ARPHRD_ type (SIOCGIFHWADDR). With SOCK_RAW
 * the ring holds the frame from the link header on (packet(7)); devices without one
 * (tun, wireguard: ARPHRD_NONE) start at the IP header, as libpcap's DLT_RAW.
 */
static int iface_link(int fd, const char *name, enum pkt_link *link, int *dlt, bool *loopback,
		      char *err, size_t err_len)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		int ret = -errno;

		snprintf(err, err_len, "iface:%s: cannot read the link type: %s", name,
			 strerror(errno));
		return ret;
	}
	*loopback = false;
	switch (ifr.ifr_hwaddr.sa_family) {
	case ARPHRD_LOOPBACK: /* a zeroed Ethernet header */
		*loopback = true;
		/* fall through */
	case ARPHRD_ETHER:
		*link = PKT_LINK_ETHERNET;
		*dlt = DLT_EN10MB;
		return 0;
	case ARPHRD_NONE:
#ifdef ARPHRD_RAWIP
	case ARPHRD_RAWIP:
#endif
		*link = PKT_LINK_RAW;
		*dlt = DLT_RAW;
		return 0;
	default:
		snprintf(err, err_len,
			 "iface:%s: link type ARPHRD %u not supported (expected Ethernet, "
			 "loopback or a raw IP device such as tun)",
			 name, ifr.ifr_hwaddr.sa_family);
		return -EPROTONOSUPPORT;
	}
}

static int set_filter(int fd, struct sock_filter *insns, unsigned short len)
{
	struct sock_fprog prog = {.len = len, .filter = insns};

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

static int clear_filter(int fd)
{
	int unused = 0; /* the kernel wants an int-sized option value even here */

	if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)) < 0)
		return -errno;
	return 0;
}

/*
 * Ring geometry (packet_mmap.rst, TPACKET_V3): blocks are a power-of-two number of pages;
 * a frame never spans blocks, so a block must hold the largest frame (a GRO/TSO aggregate
 * of up to 64 KiB on lo or veth): IFACE_BLOCK_MIN. tp_frame_size/tp_frame_nr only satisfy
 * the kernel's consistency checks in V3, where frames are packed at their real size.
 */
static void ring_geometry(uint64_t ring_bytes, uint32_t *block_bytes, uint32_t *nblocks)
{
	uint64_t b = ring_bytes / IFACE_BLOCKS_WANT;
	uint32_t pow = IFACE_BLOCK_MIN;

	if (b > IFACE_BLOCK_MAX)
		b = IFACE_BLOCK_MAX;
	while ((uint64_t)pow * 2 <= b)
		pow *= 2;
	*block_bytes = pow;
	*nblocks = (uint32_t)(ring_bytes / pow);
	if (*nblocks < IFACE_MIN_BLOCKS)
		*nblocks = IFACE_MIN_BLOCKS;
}

/*
 * One capture socket, not yet receiving: created with protocol 0 so that nothing is
 * queued before the ring and the drop-everything filter are in place (packet(7): "If
 * protocol is set to zero, no packets are received" until bind() names one), then bound
 * to the interface for every protocol.
 */
static int reader_socket_open(struct iface_source *is, struct iface_reader *r, uint64_t ring_bytes,
			      char *err, size_t err_len)
{
	static struct sock_filter drop_all[] = {{BPF_RET | BPF_K, 0, 0, 0}};
	struct tpacket_req3 req;
	struct sockaddr_ll sll;
	int version = TPACKET_V3, ret;
	const char *what;

	r->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "iface:%s: AF_PACKET socket: %s%s", is->name,
			 strerror(errno),
			 errno == EPERM ? " (live capture needs root or CAP_NET_RAW)" : "");
		return ret;
	}
	what = "PACKET_VERSION TPACKET_V3";
	if (setsockopt(r->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0)
		goto fail;
	/* until every reader has joined the fanout group, a lone member would see everything */
	what = "SO_ATTACH_FILTER";
	if ((ret = set_filter(r->fd, drop_all, 1)) < 0) {
		errno = -ret;
		goto fail;
	}
	ring_geometry(ring_bytes, &r->block_bytes, &r->nblocks);
	memset(&req, 0, sizeof(req));
	req.tp_block_size = r->block_bytes;
	req.tp_block_nr = r->nblocks;
	req.tp_frame_size = IFACE_FRAME_BYTES;
	req.tp_frame_nr = (r->block_bytes / IFACE_FRAME_BYTES) * r->nblocks;
	req.tp_retire_blk_tov = IFACE_RETIRE_MS;
	what = "PACKET_RX_RING";
	if (setsockopt(r->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
		goto fail;
	r->ring = mmap(NULL, (size_t)r->block_bytes * r->nblocks, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, 0);
	if (r->ring == MAP_FAILED) {
		r->ring = NULL;
		what = "mmap of the ring";
		goto fail;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = is->ifindex;
	what = "bind";
	if (bind(r->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto fail;
	return 0;
fail:
	ret = -errno;
	snprintf(err, err_len, "iface:%s: %s: %s", is->name, what, strerror(errno));
	return ret;
}

/* Linux 6.8 uapi; older kernels answer EINVAL and run() skips the copies itself. */
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif

/*
 * Joins every reader's socket to one fanout group (packet(7) PACKET_FANOUT). The first
 * asks the kernel for an unused group id (PACKET_FANOUT_FLAG_UNIQUEID, Linux 4.3) so that
 * another capture process can never join our group by accident; the others join that id
 * with the same type and flags (the kernel requires them to match).
 */
static int fanout_join(struct iface_source *is, char *err, size_t err_len)
{
	uint32_t flags = PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG;
	socklen_t len = sizeof(int);
	uint32_t id;
	int arg, ret;

	if (is->loopback) /* each packet crosses lo twice: keep the incoming copy */
		flags |= PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
	for (;;) {
		arg = (int)((flags | PACKET_FANOUT_FLAG_UNIQUEID) << 16);
		if (setsockopt(is->r[0].fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) == 0)
			break;
		if (errno != EINVAL || !(flags & PACKET_FANOUT_FLAG_IGNORE_OUTGOING))
			goto fail;
		flags &= ~PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
	}
	if (getsockopt(is->r[0].fd, SOL_PACKET, PACKET_FANOUT, &arg, &len) < 0)
		goto fail;
	id = (uint32_t)arg & 0xffff;
	for (uint32_t i = 1; i < is->nreaders; i++) {
		arg = (int)(id | (flags << 16));
		if (setsockopt(is->r[i].fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0)
			goto fail;
	}
	return 0;
fail:
	ret = -errno;
	snprintf(err, err_len, "iface:%s: PACKET_FANOUT: %s", is->name, strerror(-ret));
	return ret;
}

static void iface_source_free(struct iface_source *is)
{
	for (uint32_t i = 0; i < is->nreaders; i++) {
		struct iface_reader *r = &is->r[i];

		if (r->ring)
			munmap(r->ring, (size_t)r->block_bytes * r->nblocks);
		if (r->fd >= 0)
			close(r->fd); /* also ends the promiscuous membership */
		pkt_decoder_destroy(&r->dec);
		reasm_destroy(r->reasm);
	}
	free(is);
}

/* The real filter replaces the drop-everything one: from here on the rings fill. */
static int filters_install(struct iface_source *is, int dlt, char *err, size_t err_len)
{
	struct bpf_program prog = {0};
	pcap_t *dead = NULL;
	int ret = 0;

	if (filter_expr[0]) {
		dead = pcap_open_dead(dlt, IFACE_SNAPLEN);
		if (!dead)
			return -ENOMEM;
		/*
		 * Compiled offline for the link type: offsets are from the link header, as
		 * the kernel runs a SOCK_RAW filter. Tags the kernel has already removed
		 * (802.1Q, reported in tp_vlan_tci) are not in the frame the filter sees.
		 */
		if (pcap_compile(dead, &prog, filter_expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			snprintf(err, err_len, "--filter '%s': %s", filter_expr, pcap_geterr(dead));
			pcap_close(dead);
			return -EINVAL;
		}
		if (prog.bf_len > 0xffff) { /* sock_fprog.len is 16 bits */
			snprintf(err, err_len, "--filter '%s': %u instructions, at most 65535",
				 filter_expr, prog.bf_len);
			ret = -EINVAL;
			goto out;
		}
	}
	for (uint32_t i = 0; i < is->nreaders; i++) {
		int fd = is->r[i].fd;

		if (filter_expr[0]) {
			_Static_assert(sizeof(struct bpf_insn) == sizeof(struct sock_filter),
				       "libpcap and kernel classic BPF instructions differ");
			ret = set_filter(fd, (struct sock_filter *)prog.bf_insns,
					 (unsigned short)prog.bf_len);
		} else {
			ret = clear_filter(fd);
		}
		if (ret) {
			snprintf(err, err_len, "iface:%s: installing the filter: %s", is->name,
				 strerror(-ret));
			break;
		}
	}
out:
	if (dead) {
		pcap_freecode(&prog);
		pcap_close(dead);
	}
	return ret;
}

static int iface_source_open(struct source *src, const char *arg, const struct config *cfg,
			     char *err, size_t err_len)
{
	struct iface_source *is;
	struct packet_mreq mreq;
	uint32_t nreaders = cfg->readers;
	uint64_t ring_bytes = cfg->ring_bytes;
	int dlt = DLT_EN10MB, ret;

	if (!arg || !*arg || strlen(arg) >= IFNAMSIZ) {
		snprintf(err, err_len,
			 "iface: expected iface:NAME with an interface name of 1..%d "
			 "bytes",
			 IFNAMSIZ - 1);
		return -EINVAL;
	}
	if (nreaders == 0) {
		nreaders = online_cpus();
		if (nreaders > IFACE_READERS_AUTO)
			nreaders = IFACE_READERS_AUTO;
	}
	if (nreaders > IFACE_READERS_MAX) {
		snprintf(err, err_len, "iface: runtime.readers %u: at most %d for live capture",
			 nreaders, IFACE_READERS_MAX);
		return -EINVAL;
	}
	is = calloc(1, sizeof(*is) + nreaders * sizeof(is->r[0]));
	if (!is)
		return -ENOMEM;
	for (uint32_t i = 0; i < nreaders; i++)
		is->r[i].fd = -1;
	is->nreaders = nreaders;
	snprintf(is->name, sizeof(is->name), "%s", arg);
	is->ifindex = (int)if_nametoindex(arg);
	if (!is->ifindex) {
		ret = -EINVAL; /* a name that does not exist is bad usage: exit 2 */
		snprintf(err, err_len, "iface:%s: no such network interface", arg);
		goto fail;
	}
	ret = register_counters(nreaders);
	if (ret) {
		snprintf(err, err_len, "iface:%s: counters: %s", arg, strerror(-ret));
		goto fail;
	}
	for (uint32_t i = 0; i < nreaders; i++) {
		struct iface_reader *r = &is->r[i];

		r->is = is;
		r->counters = iface_counters[i];
		r->pkt_counters = iface_pkt_counters[i];
		r->reasm_counters = iface_reasm_counters[i];
		reasm_config_defaults(&r->rcfg);
		r->rcfg.chunk_max = cfg->chunk_bytes;
		r->rcfg.idle_timeout_ns = (uint64_t)cfg->conn_idle_s * 1000000000ull;
		r->rcfg.max_flows = cfg->conn_table < 1024 ? 1024 : cfg->conn_table;
		/* the fanout spreads flows evenly: the host-wide hold budget is the pcap source's */
		r->rcfg.pool_blocks /= nreaders;
		if (r->rcfg.pool_blocks < 2048)
			r->rcfg.pool_blocks = 2048;
		ret = pkt_decoder_init(&r->dec, IFACE_FRAG_SLOTS, r->pkt_counters);
		if (!ret)
			ret = reasm_create(&r->reasm, &r->rcfg, r->reasm_counters, iface_emit, r);
		if (ret) {
			snprintf(err, err_len, "iface:%s: %s", arg, strerror(-ret));
			goto fail;
		}
		/* the socket last: from the last bind() to the real filter is only a few syscalls */
		ret = reader_socket_open(is, r, ring_bytes, err, err_len);
		if (ret)
			goto fail;
		if (i == 0) {
			ret = iface_link(r->fd, arg, &is->link, &dlt, &is->loopback, err, err_len);
			if (ret)
				goto fail;
		}
	}
	/*
	 * A monitoring port receives traffic addressed to other hosts: promiscuous, as
	 * tcpdump is by default. The membership belongs to the socket and ends with it
	 * (packet(7) PACKET_ADD_MEMBERSHIP), so a crash never leaves the interface so.
	 */
	memset(&mreq, 0, sizeof(mreq));
	mreq.mr_ifindex = is->ifindex;
	mreq.mr_type = PACKET_MR_PROMISC;
	if (setsockopt(is->r[0].fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) < 0) {
		ret = -errno;
		snprintf(err, err_len, "iface:%s: promiscuous mode: %s", arg, strerror(errno));
		goto fail;
	}
	if (nreaders > 1) {
		ret = fanout_join(is, err, err_len);
	} else if (is->loopback) {
		int one = 1;

		/* Linux 4.20; older kernels: the outgoing copies are skipped in run() */
		setsockopt(is->r[0].fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	}
	if (!ret)
		ret = filters_install(is, dlt, err, err_len);
	if (ret)
		goto fail;
	src->priv = is;
	return 0;
fail:
	iface_source_free(is);
	return ret;
}

static uint32_t iface_source_readers(struct source *src)
{
	const struct iface_source *is = src->priv;

	return is->nreaders;
}

/* Kernel counters since the last read (reading resets them: packet(7) PACKET_STATISTICS). */
static void iface_stats_read(struct iface_reader *r)
{
	struct tpacket_stats_v3 st;
	socklen_t len = sizeof(st);

	memset(&st, 0, sizeof(st));
	if (getsockopt(r->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
		return;
	counter_add(&r->counters[IFACE_KERNEL_PACKETS], st.tp_packets);
	counter_add(&r->counters[IFACE_KERNEL_DROPS], st.tp_drops);
	counter_add(&r->counters[IFACE_KERNEL_FREEZES], st.tp_freeze_q_cnt);
	if (st.tp_drops)
		reader_count_source_drop(r->rd, st.tp_drops);
}

/*
 * Reads one block if the kernel has handed it over; returns false when it has not.
 * The headers come from the kernel, but a frame pointing outside its block would make
 * us read foreign memory, so that is checked once per frame, cheaply.
 */
static bool iface_block_read(struct iface_reader *r)
{
	struct tpacket_block_desc *bd =
		(struct tpacket_block_desc *)(r->ring + (size_t)r->next_block * r->block_bytes);
	const uint8_t *base = (const uint8_t *)bd;
	uint32_t n, off, frames = 0;
	uint64_t bytes = 0;
	bool skip_outgoing = r->is->loopback;

	if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
		return false;
	n = bd->hdr.bh1.num_pkts;
	off = bd->hdr.bh1.offset_to_first_pkt;
	for (uint32_t i = 0; i < n; i++) {
		const struct tpacket3_hdr *h;
		const struct sockaddr_ll *sll;
		struct pkt p;

		if (off < sizeof(*bd) ||
		    (uint64_t)off + TPACKET3_HDRLEN > r->block_bytes) { /* header + sockaddr_ll */
			counter_add(&r->counters[IFACE_BAD_FRAMES], 1);
			break;
		}
		h = (const struct tpacket3_hdr *)(base + off);
		if ((uint64_t)off + h->tp_mac + h->tp_snaplen > r->block_bytes) {
			counter_add(&r->counters[IFACE_BAD_FRAMES], 1);
			break;
		}
		sll = (const struct sockaddr_ll *)((const uint8_t *)h +
						   TPACKET_ALIGN(sizeof(struct tpacket3_hdr)));
		frames++;
		bytes += h->tp_snaplen;
		if (skip_outgoing && sll->sll_pkttype == PACKET_OUTGOING) {
			counter_add(&r->counters[IFACE_OUTGOING_SKIPPED], 1);
		} else if (pkt_decode(&r->dec, r->is->link, (const uint8_t *)h + h->tp_mac,
				      h->tp_snaplen, h->tp_len,
				      (uint64_t)h->tp_sec * 1000000000ull + h->tp_nsec, &p) == 1) {
			reasm_packet(r->reasm, &p);
		}
		if (!h->tp_next_offset)
			break;
		off += h->tp_next_offset;
	}
	counter_add(&r->counters[IFACE_FRAMES], frames);
	counter_add(&r->counters[IFACE_BYTES], bytes);
	__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	r->next_block = (r->next_block + 1) % r->nblocks;
	return true;
}

/*
 * Waits for the next block. POLLERR: the interface went down (ENETDOWN; the kernel
 * resumes when it comes up) or went away (then the capture cannot go on).
 */
static int iface_wait(struct iface_reader *r)
{
	struct pollfd pfd = {.fd = r->fd, .events = POLLIN | POLLERR};
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (poll(&pfd, 1, IFACE_POLL_MS) <= 0 || !(pfd.revents & POLLERR))
		return 0;
	getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &soerr, &len); /* clears it */
	if (!if_nametoindex(r->is->name)) {
		fprintf(stderr, "wirewatch: iface:%s: the interface went away\n", r->is->name);
		return -ENODEV;
	}
	if (soerr)
		fprintf(stderr, "wirewatch: iface:%s: %s; waiting for it\n", r->is->name,
			strerror(soerr));
	poll(NULL, 0, IFACE_POLL_MS); /* no busy loop while the link is down */
	return 0;
}

static int iface_source_run(struct source *src, struct reader *rd, uint32_t index)
{
	struct iface_source *is = src->priv;
	struct iface_reader *r = &is->r[index];
	uint32_t cap = reader_chunk_capacity(rd);
	uint64_t next_tick = monotonic_ns() + IFACE_TICK_NS;
	int result = 0;

	r->rd = rd;
	if (cap != r->rcfg.chunk_max) { /* the pool decides the chunk size: follow it */
		int ret;

		reasm_destroy(r->reasm);
		r->reasm = NULL;
		r->rcfg.chunk_max = cap;
		ret = reasm_create(&r->reasm, &r->rcfg, r->reasm_counters, iface_emit, r);
		if (ret) {
			fprintf(stderr, "wirewatch: iface:%s: %s\n", is->name, strerror(-ret));
			return ret;
		}
	}
	while (!reader_stopping(rd)) {
		uint64_t now;

		if (iface_block_read(r)) {
			reader_flush(rd); /* a block is a burst: hand it on in one go */
		} else if ((result = iface_wait(r)) < 0) {
			break;
		}
		now = monotonic_ns();
		if (now >= next_tick) {
			iface_stats_read(r);
			/* packet time stops while the link is quiet: expire by the wall clock */
			reasm_expire(r->reasm, realtime_ns());
			reader_flush(rd);
			next_tick = now + IFACE_TICK_NS;
		}
	}
	/*
	 * Frames that arrived before the stop are read: the block being filled is handed
	 * over by its retire timer within IFACE_RETIRE_MS. Later frames are after the end.
	 */
	if (result == 0) {
		while (iface_block_read(r))
			;
		poll(NULL, 0, 2 * IFACE_RETIRE_MS);
		while (iface_block_read(r))
			;
	}
	iface_stats_read(r);
	reasm_finish(r->reasm);
	reader_flush(rd);
	return result;
}

static void iface_source_close(struct source *src)
{
	if (src->priv)
		iface_source_free(src->priv);
	src->priv = NULL;
}

const struct source_ops iface_source_ops = {
	.name = "iface",
	.live = true,
	.open = iface_source_open,
	.readers = iface_source_readers,
	.run = iface_source_run,
	.close = iface_source_close,
};
