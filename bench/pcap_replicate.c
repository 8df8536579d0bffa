/*
 * Makes a large capture out of a small capture of real traffic, for bench/pcap_bench.sh:
 * writes IN again and again until OUT holds at least TARGET_MB megabytes. Copy k is
 * shifted in time to start one second after copy k-1 ended, and its IP addresses are
 * moved to their own range (IPv4 bytes 1-2 and IPv6 bytes 10-11 of both addresses set
 * to k), so every copy is a new set of connections with the same ports, and the result
 * reads like one long capture of many clients. The IPv4 header checksum is left as it
 * was: neither wirewatch nor tshark (by default) verifies it, and captures taken on the
 * sending host carry offloaded checksums anyway.
 *
 *   pcap_replicate IN OUT TARGET_MB
 *
 * Ethernet captures only (tcpdump -i lo or a veth), untagged; other frames are copied
 * unchanged. Prints "copies=K packets=N bytes=B" on stdout.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETH_HLEN      14
#define ETHERTYPE_IP4 0x0800
#define ETHERTYPE_IP6 0x86dd

static void readdress(uint8_t *f, uint32_t caplen, uint32_t k)
{
	uint16_t type;

	if (caplen < ETH_HLEN)
		return;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == ETHERTYPE_IP4 && caplen >= ETH_HLEN + 20) {
		for (int a = 12; a <= 16; a += 4) { /* saddr, daddr */
			f[ETH_HLEN + a + 1] = (uint8_t)(k >> 8);
			f[ETH_HLEN + a + 2] = (uint8_t)k;
		}
	} else if (type == ETHERTYPE_IP6 && caplen >= ETH_HLEN + 40) {
		for (int a = 8; a <= 24; a += 16) {
			f[ETH_HLEN + a + 10] = (uint8_t)(k >> 8);
			f[ETH_HLEN + a + 11] = (uint8_t)k;
		}
	}
}

int main(int argc, char **argv)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	uint64_t target, written = 0, packets = 0, shift_ns = 0;
	uint8_t *buf = malloc(262144);
	pcap_dumper_t *out = NULL;
	pcap_t *dead = NULL;
	uint32_t k;

	if (argc != 4 || !buf) {
		fprintf(stderr, "usage: pcap_replicate IN OUT TARGET_MB\n");
		return 2;
	}
	target = strtoull(argv[3], NULL, 10) * 1000000ull;
	for (k = 0; k < 65536 && (k == 0 || written < target); k++) {
		pcap_t *in = pcap_open_offline_with_tstamp_precision(
			argv[1], PCAP_TSTAMP_PRECISION_NANO, errbuf);
		struct pcap_pkthdr *h;
		const u_char *data;
		uint64_t first_ns = 0, last_ns = 0;
		int ret;

		if (!in) {
			fprintf(stderr, "pcap_replicate: %s: %s\n", argv[1], errbuf);
			return 2;
		}
		if (!out) {
			dead = pcap_open_dead_with_tstamp_precision(pcap_datalink(in), 262144,
								    PCAP_TSTAMP_PRECISION_NANO);
			out = dead ? pcap_dump_open(dead, argv[2]) : NULL;
			if (!out) {
				fprintf(stderr, "pcap_replicate: %s: %s\n", argv[2],
					dead ? pcap_geterr(dead) : "out of memory");
				return 2;
			}
		}
		while ((ret = pcap_next_ex(in, &h, &data)) >= 0) {
			struct pcap_pkthdr oh = *h;
			uint64_t ts =
				(uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
			uint32_t len = h->caplen < 262144 ? h->caplen : 262144;

			if (!first_ns)
				first_ns = ts;
			last_ns = ts;
			ts += shift_ns;
			oh.ts.tv_sec = (time_t)(ts / 1000000000ull);
			oh.ts.tv_usec = (suseconds_t)(ts % 1000000000ull); /* nanoseconds here */
			oh.caplen = len;
			memcpy(buf, data, len);
			if (pcap_datalink(in) == DLT_EN10MB)
				readdress(buf, len, k);
			pcap_dump((u_char *)out, &oh, buf);
			written += len + 16;
			packets++;
		}
		pcap_close(in);
		shift_ns += last_ns - first_ns + 1000000000ull;
	}
	pcap_dump_close(out);
	pcap_close(dead);
	free(buf);
	printf("copies=%u packets=%" PRIu64 " bytes=%" PRIu64 "\n", k, packets, written);
	return 0;
}
