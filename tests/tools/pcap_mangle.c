/*
 * pcap_mangle: rewrites a capture the way a bad network (or a bad tap) would, so the
 * integration tests can check that reassembly gives the same streams anyway.
 *
 *   pcap_mangle reorder   IN OUT         swap adjacent TCP data segments of one direction
 *   pcap_mangle duplicate IN OUT         write every TCP data segment twice
 *   pcap_mangle drop      IN OUT K       drop the K-th TCP data segment (1-based; -K counts
 *                                        from the last); prints "dropped LEN SPORT DPORT"
 *   pcap_mangle snap      IN OUT N       cut every frame to N bytes (a short snaplen)
 *   pcap_mangle corrupt   IN OUT SEED    overwrite random bytes of every frame's headers
 *
 * Timestamps keep their order: a moved packet takes the timestamp of the slot it lands
 * in. Frames are decoded with the daemon's own decoder (runtime/packet_decode.c).
 * Build: gcc -Iruntime tests/tools/pcap_mangle.c runtime/packet_decode.c -lpcap
 */
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packet_decode.h"

struct frame {
	struct pcap_pkthdr h;
	uint8_t *data;
	int data_seg; /* TCP segment with payload */
	uint16_t sport, dport;
	uint32_t payload_len;
	uint8_t saddr[16];
};

static struct frame *frames;
static size_t nframes;

static int usage(void)
{
	fprintf(stderr, "usage: pcap_mangle reorder|duplicate|drop|snap|corrupt IN OUT [ARG]\n");
	return 2;
}

static int load(const char *path, int *dlt, int *snaplen)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc =
		pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	static uint64_t counters[PKT_COUNTERS];
	struct pkt_decoder dec;
	struct pcap_pkthdr *h;
	const u_char *data;
	enum pkt_link link;
	size_t cap = 0;

	if (!pc) {
		fprintf(stderr, "pcap_mangle: %s: %s\n", path, errbuf);
		return -1;
	}
	*dlt = pcap_datalink(pc);
	*snaplen = pcap_snapshot(pc);
	if (pkt_link_from_dlt(*dlt, &link) < 0 || pkt_decoder_init(&dec, 16, counters) < 0) {
		fprintf(stderr, "pcap_mangle: %s: link type %d not supported\n", path, *dlt);
		return -1;
	}
	while (pcap_next_ex(pc, &h, &data) == 1) {
		struct frame *f;
		struct pkt p;

		if (nframes == cap) {
			cap = cap ? cap * 2 : 1024;
			frames = realloc(frames, cap * sizeof(*frames));
		}
		f = &frames[nframes++];
		memset(f, 0, sizeof(*f));
		f->h = *h;
		f->data = malloc(h->caplen ? h->caplen : 1);
		memcpy(f->data, data, h->caplen);
		if (pkt_decode(&dec, link, data, h->caplen, h->len, 0, &p) == 1 &&
		    p.proto == IPPROTO_TCP && p.payload_len_true > 0) {
			f->data_seg = 1;
			f->sport = p.sport;
			f->dport = p.dport;
			f->payload_len = p.payload_len_true;
			memcpy(f->saddr, p.saddr, 16);
		}
	}
	pkt_decoder_destroy(&dec);
	pcap_close(pc);
	return 0;
}

static void write_frame(pcap_dumper_t *d, const struct pcap_pkthdr *h, const uint8_t *data)
{
	pcap_dump((u_char *)d, h, data);
}

static int same_direction(const struct frame *a, const struct frame *b)
{
	return a->data_seg && b->data_seg && a->sport == b->sport && a->dport == b->dport &&
	       memcmp(a->saddr, b->saddr, 16) == 0;
}

int main(int argc, char **argv)
{
	const char *mode, *in, *out;
	pcap_dumper_t *d;
	pcap_t *dead;
	int dlt, snaplen;
	long arg = 0;

	if (argc < 4)
		return usage();
	mode = argv[1], in = argv[2], out = argv[3];
	if (argc > 4)
		arg = strtol(argv[4], NULL, 10);
	if (load(in, &dlt, &snaplen) < 0)
		return 1;
	dead = pcap_open_dead_with_tstamp_precision(dlt, snaplen, PCAP_TSTAMP_PRECISION_NANO);
	d = pcap_dump_open(dead, out);
	if (!d) {
		fprintf(stderr, "pcap_mangle: %s: %s\n", out, pcap_geterr(dead));
		return 1;
	}
	if (strcmp(mode, "reorder") == 0) {
		size_t swapped = 0;

		for (size_t i = 0; i < nframes; i++) {
			if (i + 1 < nframes && same_direction(&frames[i], &frames[i + 1])) {
				struct pcap_pkthdr h0 = frames[i].h, h1 = frames[i + 1].h;

				h0.caplen = frames[i + 1].h.caplen, h0.len = frames[i + 1].h.len;
				h1.caplen = frames[i].h.caplen, h1.len = frames[i].h.len;
				write_frame(d, &h0, frames[i + 1].data);
				write_frame(d, &h1, frames[i].data);
				i++;
				swapped++;
				continue;
			}
			write_frame(d, &frames[i].h, frames[i].data);
		}
		printf("swapped %zu\n", swapped);
	} else if (strcmp(mode, "duplicate") == 0) {
		for (size_t i = 0; i < nframes; i++) {
			write_frame(d, &frames[i].h, frames[i].data);
			if (frames[i].data_seg)
				write_frame(d, &frames[i].h, frames[i].data);
		}
	} else if (strcmp(mode, "drop") == 0) {
		long k = 0, total = 0;

		/* how many segments a loopback run is cut into varies with load: count back */
		for (size_t i = 0; arg < 0 && i < nframes; i++)
			total += frames[i].data_seg;
		if (arg < 0)
			arg = total + arg + 1;
		for (size_t i = 0; i < nframes; i++) {
			if (frames[i].data_seg && ++k == arg) {
				printf("dropped %u %u %u\n", frames[i].payload_len, frames[i].sport,
				       frames[i].dport);
				continue;
			}
			write_frame(d, &frames[i].h, frames[i].data);
		}
	} else if (strcmp(mode, "snap") == 0) {
		for (size_t i = 0; i < nframes; i++) {
			struct pcap_pkthdr h = frames[i].h;

			if (h.caplen > (uint32_t)arg)
				h.caplen = (uint32_t)arg;
			write_frame(d, &h, frames[i].data);
		}
	} else if (strcmp(mode, "corrupt") == 0) {
		srandom((unsigned)arg);
		for (size_t i = 0; i < nframes; i++) {
			struct pcap_pkthdr h = frames[i].h;
			uint32_t span = h.caplen < 80 ? h.caplen : 80;

			for (int k = 0; k < 3 && span; k++)
				frames[i].data[random() % span] = (uint8_t)random();
			if (random() % 4 == 0) /* and cut some frames short */
				h.caplen = h.caplen ? (uint32_t)(random() % h.caplen) : 0;
			write_frame(d, &h, frames[i].data);
		}
	} else {
		return usage();
	}
	pcap_dump_close(d);
	pcap_close(dead);
	return 0;
}
