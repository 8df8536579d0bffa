/*
 * Bounds-checked readers over a byte cursor: parsers read through these, never with raw
 * pointer arithmetic. A read past the end sets `bad` and returns zero/empty, so a parser
 * can read a whole message and check `bad` once at the end.
 */
#ifndef WIREWATCH_WIRE_H
#define WIREWATCH_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wire {
	const uint8_t *p;
	const uint8_t *end;
	bool bad;
};

static inline struct wire wire_init(const uint8_t *p, size_t len)
{
	return (struct wire){.p = p, .end = p + len, .bad = false};
}

static inline size_t wire_left(const struct wire *w)
{
	return (size_t)(w->end - w->p);
}

static inline bool wire_need(struct wire *w, size_t n)
{
	if (w->bad || wire_left(w) < n) {
		w->bad = true;
		return false;
	}
	return true;
}

static inline uint8_t wire_u8(struct wire *w)
{
	return wire_need(w, 1) ? *w->p++ : 0;
}

static inline uint16_t wire_u16be(struct wire *w)
{
	uint16_t v;

	if (!wire_need(w, 2))
		return 0;
	v = (uint16_t)(w->p[0] << 8 | w->p[1]);
	w->p += 2;
	return v;
}

static inline uint32_t wire_u32be(struct wire *w)
{
	uint32_t v;

	if (!wire_need(w, 4))
		return 0;
	v = (uint32_t)w->p[0] << 24 | (uint32_t)w->p[1] << 16 | (uint32_t)w->p[2] << 8 | w->p[3];
	w->p += 4;
	return v;
}

static inline uint64_t wire_u64be(struct wire *w)
{
	uint64_t hi = wire_u32be(w);

	return hi << 32 | wire_u32be(w);
}

static inline uint16_t wire_u16le(struct wire *w)
{
	uint16_t v;

	if (!wire_need(w, 2))
		return 0;
	v = (uint16_t)(w->p[0] | w->p[1] << 8);
	w->p += 2;
	return v;
}

static inline uint32_t wire_u24le(struct wire *w)
{
	uint32_t v;

	if (!wire_need(w, 3))
		return 0;
	v = (uint32_t)w->p[0] | (uint32_t)w->p[1] << 8 | (uint32_t)w->p[2] << 16;
	w->p += 3;
	return v;
}

static inline uint32_t wire_u32le(struct wire *w)
{
	uint32_t v;

	if (!wire_need(w, 4))
		return 0;
	v = (uint32_t)w->p[0] | (uint32_t)w->p[1] << 8 | (uint32_t)w->p[2] << 16 |
	    (uint32_t)w->p[3] << 24;
	w->p += 4;
	return v;
}

static inline uint64_t wire_u64le(struct wire *w)
{
	uint64_t lo = wire_u32le(w);

	return lo | (uint64_t)wire_u32le(w) << 32;
}

/* n bytes as a view (NULL and bad when fewer are left). */
static inline const uint8_t *wire_bytes(struct wire *w, size_t n)
{
	const uint8_t *p;

	if (!wire_need(w, n))
		return NULL;
	p = w->p;
	w->p += n;
	return p;
}

static inline void wire_skip(struct wire *w, size_t n)
{
	wire_bytes(w, n);
}

/* A NUL-terminated string: the view without the NUL (bad when no NUL before the end). */
static inline const char *wire_cstr(struct wire *w, size_t *len)
{
	const uint8_t *nul;

	*len = 0;
	if (w->bad)
		return "";
	nul = memchr(w->p, 0, wire_left(w));
	if (!nul) {
		w->bad = true;
		return "";
	}
	*len = (size_t)(nul - w->p);
	{
		const char *s = (const char *)w->p;

		w->p = nul + 1;
		return s;
	}
}

/*
 * The text line at p (text protocols: Redis, memcached): its length without CR LF (a bare
 * LF is accepted too), *total with the line end; -1 when the line end is not there yet.
 */
static inline int64_t wire_line(const uint8_t *p, uint32_t len, uint32_t *total)
{
	const uint8_t *nl = memchr(p, '\n', len);
	uint32_t n;

	if (!nl)
		return -1;
	n = (uint32_t)(nl - p);
	*total = n + 1;
	return n && p[n - 1] == '\r' ? n - 1 : n;
}

#endif
