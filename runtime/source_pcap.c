/*
 * The pcap file source (see source_pcap.h): libpcap reads the file (pcap or pcapng,
 * nanosecond timestamps), packet_decode.c takes each frame down to TCP or UDP,
 * tcp_reassembly.c turns segments into ordered stream events, and pcap_emit() copies
 * each event into a pooled chunk. One reader: a capture has one order, and the
 * reassembly needs both directions of a connection in that order.
 *
 *   --source pcap:FILE
 *
 * Connection identity and reassembly rules are in tcp_reassembly.h. Packet sources
 * have no process: pid 0, comm empty, role unknown (the tap is neither end); src is
 * the client, dst the server.
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "emit.h"
#include "packet_decode.h"
#include "source_pcap.h"
#include "tcp_reassembly.h"

#define PCAP_FRAG_SLOTS	 64   /* IP datagrams in reassembly at once (64 KiB each) */
#define PCAP_CHECK_EVERY 4096 /* packets between flushes and progress clock reads */
#define PCAP_PROGRESS_NS 1000000000ull
#define PCAP_FILTER_MAX	 4096

enum pcap_counter {
	PCAP_FILE_TRUNCATED,
	PCAP_FILE_ERRORS,
	PCAP_CHUNK_DROPS,
	PCAP_COUNTERS,
};

static const struct counter_def pcap_counter_defs[PCAP_COUNTERS] = {
	[PCAP_FILE_TRUNCATED] = {"pcap_file_truncated_total",
				 "Capture files that ended in the middle of a record"},
	[PCAP_FILE_ERRORS] = {"pcap_file_errors_total",
			      "Capture files libpcap could not read to the end"},
	[PCAP_CHUNK_DROPS] = {"pcap_chunk_drops_total",
			      "Stream events dropped because the chunk pool was empty"},
};

/*
 * Counter blocks live until exit (counters.h): static, registered by the first open,
 * written only by the one reader thread.
 */
static uint64_t pkt_counters[PKT_COUNTERS];
static uint64_t reasm_counters[REASM_COUNTERS];
static uint64_t pcap_counters[PCAP_COUNTERS];
static bool counters_registered;

/* Set by main before the runtime starts, read-only afterwards. */
static char filter_expr[PCAP_FILTER_MAX];
static bool progress_on;

struct pcap_source {
	pcap_t *pc;
	char path[256];
	enum pkt_link link;
	uint64_t file_size;
	struct pkt_decoder dec;
	struct reasm *reasm;
	struct reasm_config rcfg;
	struct reader *rd; /* during run() */
	uint64_t packets, bytes;
};

/* Whether expr compiles for one link type (the message of the failure in msg). */
static bool filter_compiles(const char *expr, int dlt, char *msg, size_t msg_len)
{
	struct bpf_program prog;
	pcap_t *dead = pcap_open_dead(dlt, 65535);
	bool ok;

	if (!dead) {
		snprintf(msg, msg_len, "out of memory");
		return false;
	}
	ok = pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0;
	if (ok)
		pcap_freecode(&prog);
	else
		snprintf(msg, msg_len, "%s", pcap_geterr(dead));
	pcap_close(dead);
	return ok;
}

int pcap_source_set_filter(const char *expr)
{
	/* link-specific words ("inbound", "vlan") parse on some link types only */
	static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL2, DLT_RAW};
	char msg[PCAP_ERRBUF_SIZE + 64] = "";

	if (!expr || !*expr) {
		filter_expr[0] = '\0';
		return 0;
	}
	if (strlen(expr) >= sizeof(filter_expr)) {
		fprintf(stderr, "wirewatch: --filter: expression longer than %d bytes\n",
			PCAP_FILTER_MAX - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++) {
		char m[sizeof(msg)];

		if (filter_compiles(expr, dlts[i], m, sizeof(m))) {
			/* the real program is compiled against each capture's link type */
			snprintf(filter_expr, sizeof(filter_expr), "%s", expr);
			return 0;
		}
		if (i == 0)
			snprintf(msg, sizeof(msg), "%s", m);
	}
	fprintf(stderr, "wirewatch: --filter '%s': %s\n", expr, msg);
	return -EINVAL;
}

void pcap_source_set_progress(bool on)
{
	progress_on = on;
}

static int register_counters(void)
{
	int ret;

	if (counters_registered)
		return 0;
	ret = counters_register(NULL, NULL, pkt_counter_defs, PKT_COUNTERS, pkt_counters);
	if (!ret)
		ret = counters_register(NULL, NULL, reasm_counter_defs, REASM_COUNTERS,
					reasm_counters);
	if (!ret)
		ret = counters_register(NULL, NULL, pcap_counter_defs, PCAP_COUNTERS,
					pcap_counters);
	counters_registered = ret == 0;
	return ret;
}

/* Copies one stream event into a chunk (reader thread; the event is a borrowed view). */
static void pcap_emit(void *arg, const struct reasm_event *ev)
{
	struct pcap_source *ps = arg;
	if (reasm_event_emit(ps->rd, ev) < 0) {
		/* the worker sees the offset jump and counts the bytes as lost */
		counter_add(&pcap_counters[PCAP_CHUNK_DROPS], 1);
		reader_count_source_drop(ps->rd, 1);
	}
}

static void pcap_source_free(struct pcap_source *ps)
{
	if (ps->pc)
		pcap_close(ps->pc);
	pkt_decoder_destroy(&ps->dec);
	reasm_destroy(ps->reasm);
	free(ps);
}

static int pcap_source_open(struct source *src, const char *arg, const struct config *cfg,
			    char *err, size_t err_len)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_source *ps;
	struct stat st;
	FILE *f;
	int dlt, ret;

	if (!arg || !*arg) {
		snprintf(err, err_len, "pcap: expected pcap:FILE");
		return -EINVAL;
	}
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	snprintf(ps->path, sizeof(ps->path), "%s", arg);
	f = fopen(arg, "rb");
	if (!f) {
		ret = -errno;
		snprintf(err, err_len, "pcap:%s: %s", arg, strerror(errno));
		free(ps);
		return ret;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, err_len, "pcap:%s: is a directory, expected a pcap or pcapng file",
			 arg);
		fclose(f);
		free(ps);
		return -EINVAL;
	}
	ps->file_size = (uint64_t)st.st_size;
	ps->pc = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!ps->pc) {
		snprintf(err, err_len, "pcap:%s: not a pcap or pcapng file (%s)", arg, errbuf);
		fclose(f); /* libpcap leaves a FILE it could not use to its caller */
		free(ps);
		return -EINVAL;
	}
	dlt = pcap_datalink(ps->pc);
	if (pkt_link_from_dlt(dlt, &ps->link) < 0) {
		const char *name = pcap_datalink_val_to_name(dlt);

		snprintf(err, err_len,
			 "pcap:%s: link type %s (%d) not supported (expected Ethernet, Linux "
			 "cooked SLL or SLL2, raw IP, or BSD loopback)",
			 arg, name ? name : "unknown", dlt);
		pcap_source_free(ps);
		return -EINVAL;
	}
	if (filter_expr[0]) {
		struct bpf_program prog = {0};

		if (pcap_compile(ps->pc, &prog, filter_expr, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
		    pcap_setfilter(ps->pc, &prog) < 0) {
			snprintf(err, err_len, "--filter '%s': %s", filter_expr,
				 pcap_geterr(ps->pc));
			if (prog.bf_insns)
				pcap_freecode(&prog);
			pcap_source_free(ps);
			return -EINVAL;
		}
		pcap_freecode(&prog);
	}
	reasm_config_defaults(&ps->rcfg);
	ps->rcfg.chunk_max = cfg->chunk_bytes;
	ps->rcfg.idle_timeout_ns = (uint64_t)cfg->conn_idle_s * 1000000000ull;
	/* a tap sees every connection of the host, a shard table only its share: same bound */
	ps->rcfg.max_flows = cfg->conn_table < 1024 ? 1024 : cfg->conn_table;
	ret = register_counters();
	if (!ret)
		ret = pkt_decoder_init(&ps->dec, PCAP_FRAG_SLOTS, pkt_counters);
	if (!ret)
		ret = reasm_create(&ps->reasm, &ps->rcfg, reasm_counters, pcap_emit, ps);
	if (ret) {
		snprintf(err, err_len, "pcap:%s: %s", arg, strerror(-ret));
		pcap_source_free(ps);
		return ret;
	}
	src->priv = ps;
	return 0;
}

static uint32_t pcap_source_readers(struct source *src)
{
	(void)src;
	return 1;
}

static double file_percent(const struct pcap_source *ps)
{
	FILE *f = pcap_file(ps->pc);
	long pos = f ? ftell(f) : -1;

	if (pos < 0 || ps->file_size == 0)
		return 0.0;
	return 100.0 * (double)pos / (double)ps->file_size;
}

static void progress_line(const struct pcap_source *ps, uint64_t start_ns, uint64_t now_ns)
{
	double s = (double)(now_ns - start_ns) / 1e9;

	if (s <= 0)
		s = 1e-9;
	fprintf(stderr,
		"pcap: %" PRIu64 " packets, %.1f MB, %.1f%%, %.0f packets/s, %.1f MB/s, %u flows\n",
		ps->packets, (double)ps->bytes / 1e6, file_percent(ps), (double)ps->packets / s,
		(double)ps->bytes / 1e6 / s, reasm_flows_active(ps->reasm));
}

static void summary_line(const struct pcap_source *ps, uint64_t start_ns)
{
	double s = (double)(monotonic_ns() - start_ns) / 1e9;
	uint64_t skipped = counter_read(&pkt_counters[PKT_TRUNCATED]) +
			   counter_read(&pkt_counters[PKT_BAD_LINK]) +
			   counter_read(&pkt_counters[PKT_BAD_IP_HEADER]) +
			   counter_read(&pkt_counters[PKT_BAD_IPV6_EXT]) +
			   counter_read(&pkt_counters[PKT_BAD_TCP_HEADER]) +
			   counter_read(&pkt_counters[PKT_BAD_UDP_HEADER]) +
			   counter_read(&pkt_counters[PKT_FRAG_BAD]);

	if (s <= 0)
		s = 1e-9;
	fprintf(stderr,
		"pcap: %s: %" PRIu64 " packets, %" PRIu64 " bytes in %.2f s (%.0f packets/s, "
		"%.1f MB/s); %" PRIu64 " flows, %" PRIu64 " gaps (%" PRIu64 " bytes), %" PRIu64
		" malformed, %" PRIu64 " not TCP/UDP\n",
		ps->path, ps->packets, ps->bytes, s, (double)ps->packets / s,
		(double)ps->bytes / 1e6 / s, counter_read(&reasm_counters[REASM_FLOWS]),
		counter_read(&reasm_counters[REASM_GAPS]),
		counter_read(&reasm_counters[REASM_GAP_BYTES]), skipped,
		counter_read(&pkt_counters[PKT_NOT_IP]) +
			counter_read(&pkt_counters[PKT_OTHER_PROTO]));
}

static int pcap_source_run(struct source *src, struct reader *rd, uint32_t index)
{
	struct pcap_source *ps = src->priv;
	uint64_t start_ns = monotonic_ns(), next_progress = start_ns + PCAP_PROGRESS_NS;
	uint32_t cap = reader_chunk_capacity(rd);
	int result = 0;

	(void)index;
	ps->rd = rd;
	if (cap != ps->rcfg.chunk_max) { /* the pool decides the chunk size: follow it */
		int ret;

		reasm_destroy(ps->reasm);
		ps->reasm = NULL;
		ps->rcfg.chunk_max = cap;
		ret = reasm_create(&ps->reasm, &ps->rcfg, reasm_counters, pcap_emit, ps);
		if (ret) {
			fprintf(stderr, "wirewatch: pcap:%s: %s\n", ps->path, strerror(-ret));
			return ret;
		}
	}
	while (!reader_stopping(rd)) {
		struct pcap_pkthdr *h;
		const u_char *data;
		struct pkt p;
		int ret = pcap_next_ex(ps->pc, &h, &data);

		if (ret == PCAP_ERROR_BREAK) /* end of file */
			break;
		if (ret == 0)
			continue;
		if (ret < 0) {
			const char *msg = pcap_geterr(ps->pc);

			/* a capture cut short (tcpdump killed, disk full) is common: keep what came */
			if (strstr(msg, "truncated")) {
				counter_add(&pcap_counters[PCAP_FILE_TRUNCATED], 1);
				fprintf(stderr,
					"wirewatch: pcap:%s: truncated capture after %" PRIu64
					" packets (%s); the rest is skipped\n",
					ps->path, ps->packets, msg);
			} else {
				counter_add(&pcap_counters[PCAP_FILE_ERRORS], 1);
				fprintf(stderr,
					"wirewatch: pcap:%s: after %" PRIu64 " packets: %s\n",
					ps->path, ps->packets, msg);
				result = -EIO;
			}
			break;
		}
		ps->packets++;
		ps->bytes += h->caplen;
		if (pkt_decode(&ps->dec, ps->link, data, h->caplen, h->len,
			       (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec,
			       &p) == 1)
			reasm_packet(ps->reasm, &p);
		if (ps->packets % PCAP_CHECK_EVERY == 0) {
			reader_flush(rd);
			if (progress_on) {
				uint64_t now = monotonic_ns();

				if (now >= next_progress) {
					progress_line(ps, start_ns, now);
					next_progress = now + PCAP_PROGRESS_NS;
				}
			}
		}
	}
	reasm_finish(ps->reasm);
	reader_flush(rd);
	if (progress_on)
		summary_line(ps, start_ns);
	return result;
}

static void pcap_source_close(struct source *src)
{
	if (src->priv)
		pcap_source_free(src->priv);
	src->priv = NULL;
}

const struct source_ops pcap_source_ops = {
	.name = "pcap",
	.live = false,
	.open = pcap_source_open,
	.readers = pcap_source_readers,
	.run = pcap_source_run,
	.close = pcap_source_close,
};
