/*
 * Packet decoding for the packet sources: from one captured frame (a pcap record or an
 * AF_PACKET slot) to the transport segment inside it, for TCP reassembly and UDP.
 *
 * Link layers: Ethernet (with 802.1Q / 802.1ad / QinQ tags), Linux cooked SLL and SLL2,
 * raw IP (DLT_RAW, DLT_IPV4, DLT_IPV6) and BSD loopback (DLT_NULL, DLT_LOOP). Network:
 * IPv4 (options skipped, fragments reassembled in a bounded table) and IPv6 (extension
 * headers walked, fragments reassembled in the same table). Transport: TCP and UDP.
 *
 * Every read goes through a bounds-checked cursor; a frame that is cut short or whose
 * headers lie is counted in one of the named counters below and skipped, never trusted.
 * Checksums are not verified: captures taken on the sending host carry offloaded (wrong)
 * checksums, and a tap sees what the receiver saw anyway.
 *
 * Owner: one decoder per reader thread; the decoder, its fragment table and the packet
 * it returns (pkt.payload may point into the fragment table) are used by that thread
 * only, and pkt.payload stays valid until the next pkt_decode() call.
 */
#ifndef WIREWATCH_PACKET_DECODE_H
#define WIREWATCH_PACKET_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "chunk.h"
#include "counters.h"

/* Malformed or skipped input, counted per kind (Prometheus names in packet_decode.c). */
enum pkt_counter {
	PKT_PACKETS,	       /* frames given to the decoder */
	PKT_TRUNCATED,	       /* frame cut before the end of a header (snaplen or damage) */
	PKT_PAYLOAD_TRUNCATED, /* payload cut by the capture's snaplen (bytes still counted) */
	PKT_BAD_LINK,	       /* link header malformed or unknown link-layer family */
	PKT_NOT_IP,	       /* ARP, LLDP, ... : not an error, not ours */
	PKT_BAD_IP_HEADER,     /* version, IHL or total length impossible */
	PKT_BAD_IPV6_EXT,      /* IPv6 extension header chain malformed or too long */
	PKT_OTHER_PROTO,       /* ICMP, SCTP, ESP, ...: not TCP or UDP */
	PKT_BAD_TCP_HEADER,    /* TCP data offset impossible */
	PKT_BAD_UDP_HEADER,    /* UDP length impossible */
	PKT_FRAGMENTS,	       /* IP fragments seen */
	PKT_FRAG_REASSEMBLED,  /* datagrams rebuilt from fragments */
	PKT_FRAG_BAD,	       /* fragments with impossible offsets or lengths */
	PKT_FRAG_EVICTED,      /* incomplete datagrams dropped (table full or timed out) */
	PKT_COUNTERS,
};

extern const struct counter_def pkt_counter_defs[PKT_COUNTERS];

/* Link types the decoder knows (libpcap DLT_ values, converted at the source). */
enum pkt_link {
	PKT_LINK_ETHERNET,
	PKT_LINK_SLL,
	PKT_LINK_SLL2,
	PKT_LINK_RAW,  /* IPv4 or IPv6 told apart by the version nibble */
	PKT_LINK_NULL, /* 4-byte address family in the capturing host's byte order */
	PKT_LINK_LOOP, /* 4-byte address family in network byte order */
};

/* Maps a libpcap DLT_ value to a link type; returns 0 or -EPROTONOSUPPORT. */
int pkt_link_from_dlt(int dlt, enum pkt_link *out);

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

/* A decoded TCP segment or UDP datagram. Addresses in network order, ports host order. */
struct pkt {
	uint64_t ts_ns;
	uint16_t family; /* AF_INET or AF_INET6 */
	uint8_t proto;	 /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t tcp_flags;
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint16_t sport, dport;
	uint32_t seq, ack; /* TCP only */
	const uint8_t *payload;
	uint32_t payload_len;	   /* bytes captured */
	uint32_t payload_len_true; /* bytes on the wire (from the IP/UDP lengths), >= payload_len */
};

/* Fragment reassembly bounds: a datagram is at most 64 KiB (RFC 791: 16-bit total length). */
#define PKT_FRAG_DATAGRAM_MAX 65535u
#define PKT_FRAG_TIMEOUT_NS   (30ull * 1000000000ull) /* RFC 791 suggests 15 s or more */

struct pkt_frag_slot;

struct pkt_decoder {
	uint64_t *counters;	     /* [PKT_COUNTERS], owned by the caller */
	struct pkt_frag_slot *frags; /* fixed table, allocated once */
	uint32_t nfrags;
	uint8_t *frag_bufs; /* nfrags * PKT_FRAG_DATAGRAM_MAX */
	uint8_t *frag_out;  /* the last reassembled datagram's slot buffer */
};

/* Allocates the fragment table (frag_slots datagrams in reassembly at once, 0 = none). */
int pkt_decoder_init(struct pkt_decoder *d, uint32_t frag_slots, uint64_t *counters);
void pkt_decoder_destroy(struct pkt_decoder *d);

/*
 * Decodes one frame. caplen bytes are in data; wirelen is the frame's length on the wire
 * (>= caplen, the snaplen cut the rest). Returns 1 and fills out for a TCP or UDP
 * packet, 0 when the frame is skipped (counted) or is a fragment still waiting for the
 * rest of its datagram.
 */
int pkt_decode(struct pkt_decoder *d, enum pkt_link link, const uint8_t *data, uint32_t caplen,
	       uint32_t wirelen, uint64_t ts_ns, struct pkt *out);

/* Decodes from the IP header on (used by pkt_decode after the link layer; tests call it). */
int pkt_decode_ip(struct pkt_decoder *d, const uint8_t *p, uint32_t caplen, uint32_t wirelen,
		  uint64_t ts_ns, struct pkt *out);

#endif
