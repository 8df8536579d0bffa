/*
 * Packet decoding: link layer -> IP -> TCP/UDP (see packet_decode.h). Every header is
 * read through a small cursor that refuses to move past what was captured; the only
 * state kept between frames is the bounded IP fragment table.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "packet_decode.h"

const struct counter_def pkt_counter_defs[PKT_COUNTERS] = {
	[PKT_PACKETS] = {"pcap_packets_total", "Frames read by the packet source"},
	[PKT_TRUNCATED] = {"pcap_truncated_total",
			   "Frames cut before the end of a header (skipped)"},
	[PKT_PAYLOAD_TRUNCATED] =
		{"pcap_payload_truncated_total",
		 "Frames whose payload the snaplen cut (bytes counted, not seen)"},
	[PKT_BAD_LINK] = {"pcap_bad_link_header_total",
			  "Frames with a malformed or unknown link-layer header (skipped)"},
	[PKT_NOT_IP] = {"pcap_not_ip_total", "Frames that carry neither IPv4 nor IPv6 (skipped)"},
	[PKT_BAD_IP_HEADER] = {"pcap_bad_ip_header_total",
			       "IP headers with an impossible version, IHL or length (skipped)"},
	[PKT_BAD_IPV6_EXT] = {"pcap_bad_ipv6_ext_header_total",
			      "IPv6 extension header chains malformed or too long (skipped)"},
	[PKT_OTHER_PROTO] = {"pcap_other_proto_total",
			     "IP packets that are neither TCP nor UDP (skipped)"},
	[PKT_BAD_TCP_HEADER] = {"pcap_bad_tcp_header_total",
				"TCP headers with an impossible data offset (skipped)"},
	[PKT_BAD_UDP_HEADER] = {"pcap_bad_udp_header_total",
				"UDP headers with an impossible length (skipped)"},
	[PKT_FRAGMENTS] = {"pcap_ip_fragments_total", "IP fragments seen"},
	[PKT_FRAG_REASSEMBLED] = {"pcap_ip_reassembled_total",
				  "IP datagrams rebuilt from their fragments"},
	[PKT_FRAG_BAD] = {"pcap_ip_fragment_bad_total",
			  "IP fragments with impossible offsets or lengths (skipped)"},
	[PKT_FRAG_EVICTED] = {"pcap_ip_fragment_evicted_total",
			      "Incomplete IP datagrams dropped (table full or timed out)"},
};

#define ETH_P_IPV4     0x0800
#define ETH_P_IPV6     0x86dd
#define ETH_P_8021Q    0x8100
#define ETH_P_8021AD   0x88a8
#define ETH_P_QINQ_OLD 0x9100 /* pre-802.1ad QinQ outer tag, still seen on old switches */
#define VLAN_TAGS_MAX  4
#define IPV6_EXT_MAX   8 /* more extension headers than this is an attack, not traffic */
#define FRAG_UNITS     ((PKT_FRAG_DATAGRAM_MAX + 7) / 8)

/* A bounded reader over [p, end): every take checks the length first. */
struct cursor {
	const uint8_t *p, *end;
};

static inline uint32_t cur_left(const struct cursor *c)
{
	return (uint32_t)(c->end - c->p);
}

static inline const uint8_t *cur_take(struct cursor *c, uint32_t n)
{
	const uint8_t *at = c->p;

	if (cur_left(c) < n)
		return NULL;
	c->p += n;
	return at;
}

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct pkt_frag_slot {
	bool used;
	uint8_t family;
	uint8_t proto; /* IPv4: the protocol field; IPv6: the fragment header's next header */
	uint8_t saddr[16], daddr[16];
	uint32_t id;
	uint32_t total;	     /* datagram payload length, known once the last fragment came */
	uint32_t units_have; /* 8-byte units received */
	uint64_t first_ns;
	uint8_t have[FRAG_UNITS / 8 + 1];
};

int pkt_link_from_dlt(int dlt, enum pkt_link *out)
{
	switch (dlt) {
	case DLT_EN10MB:
		*out = PKT_LINK_ETHERNET;
		return 0;
	case DLT_LINUX_SLL:
		*out = PKT_LINK_SLL;
		return 0;
	case DLT_LINUX_SLL2:
		*out = PKT_LINK_SLL2;
		return 0;
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case 101: /* LINKTYPE_RAW, as some writers put it in the file header */
		*out = PKT_LINK_RAW;
		return 0;
	case DLT_NULL:
		*out = PKT_LINK_NULL;
		return 0;
	case DLT_LOOP:
		*out = PKT_LINK_LOOP;
		return 0;
	default:
		return -EPROTONOSUPPORT;
	}
}

int pkt_decoder_init(struct pkt_decoder *d, uint32_t frag_slots, uint64_t *counters)
{
	memset(d, 0, sizeof(*d));
	d->counters = counters;
	if (frag_slots == 0)
		return 0;
	d->frags = calloc(frag_slots, sizeof(*d->frags));
	d->frag_bufs = malloc((size_t)frag_slots * PKT_FRAG_DATAGRAM_MAX);
	if (!d->frags || !d->frag_bufs) {
		pkt_decoder_destroy(d);
		return -ENOMEM;
	}
	d->nfrags = frag_slots;
	return 0;
}

void pkt_decoder_destroy(struct pkt_decoder *d)
{
	free(d->frags);
	free(d->frag_bufs);
	d->frags = NULL;
	d->frag_bufs = NULL;
	d->nfrags = 0;
}

static inline void count(struct pkt_decoder *d, enum pkt_counter c)
{
	counter_add(&d->counters[c], 1);
}

/*
 * The transport header. cap/len_true: captured and true length of the IP payload.
 * RFC 9293 3.1 (TCP header), RFC 768 (UDP).
 */
static int decode_l4(struct pkt_decoder *d, uint8_t proto, const uint8_t *p, uint32_t cap,
		     uint32_t len_true, struct pkt *out)
{
	struct cursor c = {p, p + cap};
	const uint8_t *h;

	out->proto = proto;
	if (proto == IPPROTO_TCP) {
		uint32_t doff;

		h = cur_take(&c, 20);
		if (!h) {
			count(d, len_true < 20 ? PKT_BAD_TCP_HEADER : PKT_TRUNCATED);
			return 0;
		}
		doff = (uint32_t)(h[12] >> 4) * 4;
		if (doff < 20 || doff > len_true) {
			count(d, PKT_BAD_TCP_HEADER);
			return 0;
		}
		if (!cur_take(&c, doff - 20)) { /* options cut by the snaplen */
			count(d, PKT_TRUNCATED);
			return 0;
		}
		out->sport = be16(h);
		out->dport = be16(h + 2);
		out->seq = be32(h + 4);
		out->ack = be32(h + 8);
		out->tcp_flags = h[13];
		out->payload = c.p;
		out->payload_len = cur_left(&c);
		out->payload_len_true = len_true - doff;
	} else if (proto == IPPROTO_UDP) {
		uint32_t ulen;

		h = cur_take(&c, 8);
		if (!h) {
			count(d, len_true < 8 ? PKT_BAD_UDP_HEADER : PKT_TRUNCATED);
			return 0;
		}
		ulen = be16(h + 4);
		/* a zero length is legal in IPv6 jumbograms only; there the IP length rules */
		if (ulen == 0)
			ulen = len_true;
		if (ulen < 8 || ulen > len_true) {
			count(d, PKT_BAD_UDP_HEADER);
			return 0;
		}
		out->sport = be16(h);
		out->dport = be16(h + 2);
		out->seq = out->ack = 0;
		out->tcp_flags = 0;
		out->payload = c.p;
		out->payload_len_true = ulen - 8;
		out->payload_len = cur_left(&c) < ulen - 8 ? cur_left(&c) : ulen - 8;
	} else {
		count(d, PKT_OTHER_PROTO);
		return 0;
	}
	if (out->payload_len < out->payload_len_true)
		count(d, PKT_PAYLOAD_TRUNCATED);
	return 1;
}

/* Finds the slot of a datagram, or takes a free / timed out / the oldest one. */
static struct pkt_frag_slot *frag_slot_get(struct pkt_decoder *d, const struct pkt *k,
					   uint8_t proto, uint32_t id, uint64_t ts_ns)
{
	struct pkt_frag_slot *victim = NULL;

	for (uint32_t i = 0; i < d->nfrags; i++) {
		struct pkt_frag_slot *s = &d->frags[i];

		if (s->used && s->first_ns + PKT_FRAG_TIMEOUT_NS < ts_ns) {
			s->used = false;
			count(d, PKT_FRAG_EVICTED);
		}
		if (s->used && s->id == id && s->proto == proto && s->family == k->family &&
		    memcmp(s->saddr, k->saddr, 16) == 0 && memcmp(s->daddr, k->daddr, 16) == 0)
			return s;
		if (!victim || (victim->used && (!s->used || s->first_ns < victim->first_ns)))
			victim = s;
	}
	if (!victim)
		return NULL;
	if (victim->used)
		count(d, PKT_FRAG_EVICTED);
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->family = (uint8_t)k->family;
	victim->proto = proto;
	victim->id = id;
	victim->first_ns = ts_ns;
	memcpy(victim->saddr, k->saddr, 16);
	memcpy(victim->daddr, k->daddr, 16);
	return victim;
}

/*
 * Adds one fragment (RFC 791 3.2 / RFC 8200 4.5): offset in bytes, more = MF flag.
 * Overlapping data: the first copy of each 8-byte unit wins (RFC 5722 would drop the
 * whole datagram for IPv6; keeping the first copy is what the receiving stacks we tap
 * did before that, and it never makes us read more than was captured).
 * Returns the slot when the datagram is complete, NULL otherwise.
 */
static struct pkt_frag_slot *frag_add(struct pkt_decoder *d, const struct pkt *k, uint8_t proto,
				      uint32_t id, uint32_t off, bool more, const uint8_t *p,
				      uint32_t len, uint64_t ts_ns)
{
	struct pkt_frag_slot *s;
	uint8_t *buf;

	count(d, PKT_FRAGMENTS);
	if (d->nfrags == 0 || off + len > PKT_FRAG_DATAGRAM_MAX || (more && (len & 7)) ||
	    (more && len == 0)) {
		count(d, PKT_FRAG_BAD);
		return NULL;
	}
	s = frag_slot_get(d, k, proto, id, ts_ns);
	if (!s)
		return NULL;
	if (!more) {
		if (s->total && s->total != off + len) {
			count(d, PKT_FRAG_BAD);
			return NULL;
		}
		s->total = off + len;
	} else if (s->total && off + len > s->total) {
		count(d, PKT_FRAG_BAD);
		return NULL;
	}
	buf = d->frag_bufs + (size_t)(s - d->frags) * PKT_FRAG_DATAGRAM_MAX;
	for (uint32_t u = off / 8; u * 8 < off + len; u++) {
		uint32_t from = u * 8, n = off + len - from < 8 ? off + len - from : 8;

		if (s->have[u / 8] & (1u << (u % 8)))
			continue;
		s->have[u / 8] |= (uint8_t)(1u << (u % 8));
		s->units_have++;
		memcpy(buf + from, p + (from - off), n);
	}
	if (s->total == 0 || s->units_have < (s->total + 7) / 8)
		return NULL;
	/* units_have counts distinct units below total: equal means every unit is there */
	s->used = false;
	d->frag_out = buf;
	count(d, PKT_FRAG_REASSEMBLED);
	return s;
}

/*
 * RFC 8200 4: walks extension headers until an upper-layer header. Returns 1 there, 2
 * right after a fragment header (allowed only when allow_frag: the rest of the chain is
 * in the fragmentable part and is walked again after reassembly), 0 when malformed.
 */
static int ipv6_walk(struct pkt_decoder *d, uint8_t *nh, struct cursor *c, uint32_t *len_true,
		     bool allow_frag, uint32_t *frag_word, uint32_t *frag_id)
{
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		const uint8_t *h;
		uint32_t hlen;
		uint8_t type = *nh;

		switch (type) {
		case 0:	  /* hop-by-hop options */
		case 43:  /* routing */
		case 60:  /* destination options */
		case 135: /* mobility */
			if (cur_left(c) < 2)
				goto truncated;
			hlen = ((uint32_t)c->p[1] + 1) * 8;
			break;
		case 51: /* AH: length in 4-byte units minus 2 (RFC 4302 2.2) */
			if (cur_left(c) < 2)
				goto truncated;
			hlen = ((uint32_t)c->p[1] + 2) * 4;
			break;
		case 44: /* fragment (RFC 8200 4.5) */
			if (!allow_frag)
				goto bad; /* a fragment header inside a fragment */
			hlen = 8;
			break;
		default:
			return 1;
		}
		if (hlen > *len_true)
			goto bad;
		h = cur_take(c, hlen);
		if (!h)
			goto truncated;
		*nh = h[0];
		*len_true -= hlen;
		if (type == 44) {
			*frag_word = be16(h + 2);
			*frag_id = be32(h + 4);
			return 2;
		}
	}
bad:
	count(d, PKT_BAD_IPV6_EXT);
	return 0;
truncated:
	count(d, PKT_TRUNCATED);
	return 0;
}

static int decode_ipv4(struct pkt_decoder *d, struct cursor *c, uint32_t wire_left, uint64_t ts_ns,
		       struct pkt *out)
{
	const uint8_t *h = c->p;
	uint32_t ihl, tot, cap, frag_word, off;
	bool more;

	if (cur_left(c) < 20) {
		count(d, wire_left < 20 ? PKT_BAD_IP_HEADER : PKT_TRUNCATED);
		return 0;
	}
	/* RFC 791 3.1 */
	ihl = (uint32_t)(h[0] & 0x0f) * 4;
	tot = be16(h + 2);
	if (tot == 0) /* TSO: the sender's capture saw the segment before the NIC split it */
		tot = wire_left;
	if (ihl < 20 || tot < ihl || tot > wire_left) {
		count(d, PKT_BAD_IP_HEADER);
		return 0;
	}
	if (cur_left(c) < ihl) {
		count(d, PKT_TRUNCATED);
		return 0;
	}
	cap = cur_left(c) < tot ? cur_left(c) : tot;
	out->family = AF_INET;
	memset(out->saddr, 0, 16);
	memset(out->daddr, 0, 16);
	memcpy(out->saddr, h + 12, 4);
	memcpy(out->daddr, h + 16, 4);
	out->ts_ns = ts_ns;
	frag_word = be16(h + 6);
	off = (frag_word & 0x1fff) * 8u;
	more = frag_word & 0x2000;
	if (off || more) {
		struct pkt_frag_slot *s;

		if (cap < tot) { /* a fragment cut by the snaplen cannot complete a datagram */
			count(d, PKT_TRUNCATED);
			return 0;
		}
		s = frag_add(d, out, h[9], be16(h + 4), off, more, h + ihl, tot - ihl, ts_ns);
		if (!s)
			return 0;
		return decode_l4(d, s->proto, d->frag_out, s->total, s->total, out);
	}
	return decode_l4(d, h[9], h + ihl, cap - ihl, tot - ihl, out);
}

static int decode_ipv6(struct pkt_decoder *d, struct cursor *c, uint32_t wire_left, uint64_t ts_ns,
		       struct pkt *out)
{
	const uint8_t *h = cur_take(c, 40);
	uint32_t plen, frag_word = 0, frag_id = 0;
	struct pkt_frag_slot *s;
	struct cursor rc;
	uint8_t nh;
	int ret;

	if (!h) {
		count(d, wire_left < 40 ? PKT_BAD_IP_HEADER : PKT_TRUNCATED);
		return 0;
	}
	/* RFC 8200 3 */
	plen = be16(h + 4);
	if (plen == 0) /* jumbogram (RFC 2675) or TSO: trust the frame length */
		plen = wire_left - 40;
	if (plen > wire_left - 40) {
		count(d, PKT_BAD_IP_HEADER);
		return 0;
	}
	if (cur_left(c) > plen)
		c->end = c->p + plen; /* link padding is not payload */
	out->family = AF_INET6;
	memcpy(out->saddr, h + 8, 16);
	memcpy(out->daddr, h + 24, 16);
	out->ts_ns = ts_ns;
	nh = h[6];
	ret = ipv6_walk(d, &nh, c, &plen, true, &frag_word, &frag_id);
	if (ret == 0)
		return 0;
	if (ret == 1)
		return decode_l4(d, nh, c->p, cur_left(c), plen, out);
	if (cur_left(c) < plen) { /* a fragment cut by the snaplen cannot complete a datagram */
		count(d, PKT_TRUNCATED);
		return 0;
	}
	s = frag_add(d, out, nh, frag_id, frag_word & 0xfff8u, frag_word & 1, c->p, plen, ts_ns);
	if (!s)
		return 0;
	plen = s->total;
	nh = s->proto;
	rc = (struct cursor){d->frag_out, d->frag_out + plen};
	/* headers after the fragment header belong to the reassembled payload */
	if (ipv6_walk(d, &nh, &rc, &plen, false, &frag_word, &frag_id) == 0)
		return 0;
	return decode_l4(d, nh, rc.p, cur_left(&rc), plen, out);
}

static int decode_ethertype(struct pkt_decoder *d, uint16_t type, struct cursor *c,
			    uint32_t wire_left, uint64_t ts_ns, struct pkt *out)
{
	/* 802.1Q / 802.1ad: tag = TCI(2) + inner ethertype(2); QinQ stacks them */
	for (int tags = 0; type == ETH_P_8021Q || type == ETH_P_8021AD || type == ETH_P_QINQ_OLD;
	     tags++) {
		const uint8_t *t = cur_take(c, 4);

		if (tags == VLAN_TAGS_MAX) {
			count(d, PKT_BAD_LINK);
			return 0;
		}
		if (!t) {
			count(d, PKT_TRUNCATED);
			return 0;
		}
		wire_left -= 4;
		type = be16(t + 2);
	}
	if (type == ETH_P_IPV4 && cur_left(c) && (c->p[0] >> 4) == 4)
		return decode_ipv4(d, c, wire_left, ts_ns, out);
	if (type == ETH_P_IPV6 && cur_left(c) && (c->p[0] >> 4) == 6)
		return decode_ipv6(d, c, wire_left, ts_ns, out);
	if (type == ETH_P_IPV4 || type == ETH_P_IPV6) {
		count(d, cur_left(c) ? PKT_BAD_IP_HEADER : PKT_TRUNCATED);
		return 0;
	}
	count(d, PKT_NOT_IP);
	return 0;
}

int pkt_decode_ip(struct pkt_decoder *d, const uint8_t *p, uint32_t caplen, uint32_t wirelen,
		  uint64_t ts_ns, struct pkt *out)
{
	struct cursor c = {p, p + caplen};

	if (caplen == 0) {
		count(d, PKT_TRUNCATED);
		return 0;
	}
	switch (p[0] >> 4) {
	case 4:
		return decode_ipv4(d, &c, wirelen, ts_ns, out);
	case 6:
		return decode_ipv6(d, &c, wirelen, ts_ns, out);
	default:
		count(d, PKT_BAD_IP_HEADER);
		return 0;
	}
}

/* BSD loopback: AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 depending on the OS. */
static int null_family(uint32_t af)
{
	if (af == 2)
		return 4;
	if (af == 10 || af == 24 || af == 28 || af == 30)
		return 6;
	return 0;
}

int pkt_decode(struct pkt_decoder *d, enum pkt_link link, const uint8_t *data, uint32_t caplen,
	       uint32_t wirelen, uint64_t ts_ns, struct pkt *out)
{
	struct cursor c = {data, data + caplen};
	const uint8_t *h;
	uint32_t hlen;

	count(d, PKT_PACKETS);
	if (wirelen < caplen)
		wirelen = caplen; /* a writer that lies the other way: trust what we hold */
	switch (link) {
	case PKT_LINK_ETHERNET: /* dst(6) src(6) type(2) */
		hlen = 14;
		break;
	case PKT_LINK_SLL: /* pkttype(2) hatype(2) halen(2) addr(8) protocol(2) */
		hlen = 16;
		break;
	case PKT_LINK_SLL2: /* protocol(2) rsvd(2) ifindex(4) hatype(2) pkttype halen addr(8) */
		hlen = 20;
		break;
	case PKT_LINK_NULL:
	case PKT_LINK_LOOP:
		hlen = 4;
		break;
	case PKT_LINK_RAW:
		return pkt_decode_ip(d, data, caplen, wirelen, ts_ns, out);
	default:
		count(d, PKT_BAD_LINK);
		return 0;
	}
	h = cur_take(&c, hlen);
	if (!h) {
		count(d, PKT_TRUNCATED);
		return 0;
	}
	wirelen -= hlen;
	switch (link) {
	case PKT_LINK_ETHERNET:
		if (be16(h + 12) < 0x0600) { /* 802.3 length field: LLC/SNAP, never IP here */
			count(d, PKT_NOT_IP);
			return 0;
		}
		return decode_ethertype(d, be16(h + 12), &c, wirelen, ts_ns, out);
	case PKT_LINK_SLL:
		return decode_ethertype(d, be16(h + 14), &c, wirelen, ts_ns, out);
	case PKT_LINK_SLL2:
		return decode_ethertype(d, be16(h), &c, wirelen, ts_ns, out);
	case PKT_LINK_LOOP: {
		int v = null_family(be32(h));

		if (!v) {
			count(d, PKT_NOT_IP);
			return 0;
		}
		return pkt_decode_ip(d, c.p, cur_left(&c), wirelen, ts_ns, out);
	}
	default: { /* NULL: host byte order of the machine that wrote the file: try both */
		uint32_t le = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
			      (uint32_t)h[3] << 24;
		int v = null_family(le) ? null_family(le) : null_family(be32(h));

		if (!v) {
			count(d, PKT_NOT_IP);
			return 0;
		}
		return pkt_decode_ip(d, c.p, cur_left(&c), wirelen, ts_ns, out);
	}
	}
}
