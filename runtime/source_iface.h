/*
 * The live interface source: --source iface:NAME captures every frame of one network
 * interface with AF_PACKET (packet(7)): a TPACKET_V3 block ring per reader thread, the
 * readers joined in one PACKET_FANOUT_HASH group so that both directions of a flow land on
 * the same reader, which decodes (packet_decode.h) and reassembles (tcp_reassembly.h) them
 * into chunks exactly as the pcap source does, with time taken from the kernel's
 * timestamps. Kernel drops (PACKET_STATISTICS) are exported as counters.
 */
#ifndef WIREWATCH_SOURCE_IFACE_H
#define WIREWATCH_SOURCE_IFACE_H

#include "source.h"

extern const struct source_ops iface_source_ops;

/*
 * --filter EXPR for live capture: the expression pcap_source_set_filter() already
 * checked, kept here and compiled against the interface's link type when the source
 * opens. Call before runtime_create(); NULL or "" clears it. Returns 0 or -EINVAL (too
 * long: the message is printed).
 */
int iface_source_set_filter(const char *expr);

#endif
