/*
 * The baseline the pcap source is measured against: libpcap reading a capture with
 * nothing else, the same way runtime/source_pcap.c does (pcap_next_ex, nanosecond
 * timestamps), touching one byte per frame so the loop cannot be optimised away.
 * One thread. Prints packets, bytes, seconds and rates on one line.
 *   pcap_read_baseline FILE
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>

#include "emit.h"

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t packets = 0, bytes = 0, check = 0, start, elapsed;
	pcap_t *pc;
	double s;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: pcap_read_baseline FILE\n");
		return 2;
	}
	start = monotonic_ns();
	pc = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!pc) {
		fprintf(stderr, "pcap_read_baseline: %s: %s\n", argv[1], errbuf);
		return 2;
	}
	while ((ret = pcap_next_ex(pc, &h, &data)) >= 0) {
		if (ret == 0)
			continue;
		packets++;
		bytes += h->caplen;
		check += h->caplen ? data[h->caplen / 2] : 0;
	}
	if (ret != PCAP_ERROR_BREAK)
		fprintf(stderr, "pcap_read_baseline: %s: %s\n", argv[1], pcap_geterr(pc));
	pcap_close(pc);
	elapsed = monotonic_ns() - start;
	s = (double)elapsed / 1e9;
	printf("pcap_read_baseline packets=%" PRIu64 " bytes=%" PRIu64 " seconds=%.3f "
	       "packets_per_s=%.0f mb_per_s=%.1f (check %" PRIu64 ")\n",
	       packets, bytes, s, (double)packets / s, (double)bytes / 1e6 / s, check);
	return ret == PCAP_ERROR_BREAK ? 0 : 1;
}
