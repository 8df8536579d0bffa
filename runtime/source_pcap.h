/*
 * The pcap file source: --source pcap:FILE reads a pcap or pcapng capture with libpcap,
 * decodes each frame (packet_decode.h), reassembles TCP streams and tracks UDP flows
 * (tcp_reassembly.h), and hands the result on as chunks: the same pipeline as the eBPF
 * source, with time taken from the packets. The run ends at the end of the file.
 */
#ifndef WIREWATCH_SOURCE_PCAP_H
#define WIREWATCH_SOURCE_PCAP_H

#include <stdbool.h>

#include "source.h"

extern const struct source_ops pcap_source_ops;

/*
 * --filter EXPR: a BPF filter expression (pcap-filter(7)) applied to every packet
 * source opened afterwards. Checks the syntax at once; returns 0, or -EINVAL after
 * printing "wirewatch: --filter 'EXPR': <what libpcap said>" on stderr (exit 2).
 * Call before runtime_create(); NULL or "" clears it.
 */
int pcap_source_set_filter(const char *expr);

/* --progress: a line on stderr about once a second and a summary at the end. */
void pcap_source_set_progress(bool on);

#endif
