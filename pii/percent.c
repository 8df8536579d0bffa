/*
 * Percent-decoding for query strings and form bodies, so the engine sees
 * "+34 482 52 43 80" and "Mark Meyer" where the wire says "%2B34%20482..." and
 * "Mark%20Meyer", and a map back: findings are reported at their offsets in the raw text,
 * which is what records mask. '&', '=' and '%' stay encoded, so decoding never makes new
 * name=value pairs or new escapes; '+' is a space (application/x-www-form-urlencoded).
 */
#include "engine.h"

static int hex_val(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

size_t pii_percent_decode(const uint8_t *in, size_t len, uint8_t *out, uint32_t *escapes,
			  uint32_t *nescapes)
{
	size_t o = 0;

	*nescapes = 0;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (in[i] == '%' && i + 2 < len && (hi = hex_val(in[i + 1])) >= 0 &&
		    (lo = hex_val(in[i + 2])) >= 0) {
			uint8_t c = (uint8_t)(hi << 4 | lo);

			if (c != '&' && c != '=' && c != '%') {
				escapes[(*nescapes)++] = (uint32_t)o;
				out[o++] = c;
				i += 2;
				continue;
			}
		}
		out[o++] = in[i] == '+' ? ' ' : in[i];
	}
	return o;
}

uint32_t pii_percent_raw_offset(const uint32_t *escapes, uint32_t n, uint32_t off)
{
	uint32_t lo = 0, hi = n;

	/* escapes are in increasing order: count those before off, each took two more bytes */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (escapes[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return off + 2 * lo;
}
