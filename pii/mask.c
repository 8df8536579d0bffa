/*
 * Masking: the form of a value that may be written out under `redact: pii` (the default).
 * It keeps what an analyst needs to tell findings apart (an email's first letters and
 * suffix, a card's last four digits, a token's public prefix) and nothing that rebuilds the
 * value. Secrets and passwords keep no length: every password masks to the same string.
 */
#include <stdbool.h>
#include <string.h>

#include "pii.h"

struct out {
	char *p;
	size_t n, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n && o->n + 1 < o->cap; i++)
		o->p[o->n++] = s[i];
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static void mask_email(struct out *o, const uint8_t *v, size_t len)
{
	const uint8_t *at = memchr(v, '@', len);
	size_t dom, last_dot = 0;

	if (!at || at == v) {
		puts_(o, "***");
		return;
	}
	dom = (size_t)(at - v) + 1;
	for (size_t i = dom; i < len; i++) {
		if (v[i] == '.')
			last_dot = i;
	}
	put(o, (const char *)v, 1);
	puts_(o, "***@");
	if (dom < len && last_dot > dom) {
		put(o, (const char *)v + dom, 1);
		puts_(o, "***");
		put(o, (const char *)v + last_dot, len - last_dot);
	} else {
		puts_(o, "***");
	}
}

/* Every digit but the last `keep` becomes '*'; separators stay where they were. */
static void mask_digits(struct out *o, const uint8_t *v, size_t len, size_t keep)
{
	size_t digits = 0, seen = 0;

	for (size_t i = 0; i < len; i++)
		digits += is_digit(v[i]);
	for (size_t i = 0; i < len; i++) {
		if (is_digit(v[i])) {
			seen++;
			put(o, seen + keep > digits ? (const char *)v + i : "*", 1);
		} else {
			put(o, (const char *)v + i, 1);
		}
	}
}

static void mask_card(struct out *o, const uint8_t *v, size_t len)
{
	char last4[4];
	size_t n = 0;

	for (size_t i = len; i > 0 && n < 4; i--) {
		if (is_digit(v[i - 1]))
			last4[3 - n++] = (char)v[i - 1];
	}
	puts_(o, "****-****-****-");
	put(o, last4 + 4 - n, n);
}

static void mask_keep_prefix(struct out *o, const uint8_t *v, size_t len, size_t keep)
{
	put(o, (const char *)v, len < keep ? len : keep);
	puts_(o, "****");
}

static void mask_name(struct out *o, const uint8_t *v, size_t len)
{
	bool word_start = true;

	for (size_t i = 0; i < len; i++) {
		if (v[i] == ' ') {
			put(o, " ", 1);
			word_start = true;
		} else if (word_start) {
			size_t n = 1;

			while (i + n < len && (v[i + n] & 0xc0) == 0x80)
				n++; /* the whole first UTF-8 character */
			put(o, (const char *)v + i, n);
			puts_(o, "***");
			word_start = false;
		}
	}
}

size_t pii_mask(enum pii_type t, const uint8_t *v, size_t len, char *out, size_t out_len)
{
	struct out o = {out, 0, out_len};

	if (out_len == 0)
		return 0;
	switch (t) {
	case PII_EMAIL:
		mask_email(&o, v, len);
		break;
	case PII_CREDIT_CARD:
		mask_card(&o, v, len);
		break;
	case PII_IBAN: /* country and last four: DE**...3000 */
		put(&o, (const char *)v, len < 2 ? len : 2);
		puts_(&o, "**");
		for (size_t i = 4; i + 4 < len; i++)
			put(&o, v[i] == ' ' ? " " : "*", 1);
		if (len > 8)
			put(&o, (const char *)v + len - 4, 4);
		break;
	case PII_US_SSN:
	case PII_PHONE:
		mask_digits(&o, v, len, t == PII_US_SSN ? 4 : 2);
		break;
	case PII_DATE_OF_BIRTH:
		mask_digits(&o, v, len, 0);
		break;
	case PII_IP_ADDRESS:
		if (memchr(v, ':', len)) { /* IPv6: the first group */
			const uint8_t *c = memchr(v, ':', len);

			put(&o, (const char *)v, (size_t)(c - v));
			puts_(&o, ":****");
		} else { /* IPv4: the first two octets, the network, not the host */
			size_t dots = 0, i = 0;

			for (; i < len && dots < 2; i++)
				dots += v[i] == '.';
			put(&o, (const char *)v, i);
			puts_(&o, "*.*");
		}
		break;
	case PII_JWT:
		mask_keep_prefix(&o, v, len, 3);
		break;
	case PII_AWS_ACCESS_KEY:
		mask_keep_prefix(&o, v, len, 4);
		break;
	case PII_GITHUB_TOKEN:
		mask_keep_prefix(&o, v, len, len > 11 && !memcmp(v, "github_pat_", 11) ? 11 : 4);
		break;
	case PII_SLACK_TOKEN:
		mask_keep_prefix(&o, v, len, len > 5 && v[4] == '-' ? 5 : 0);
		break;
	case PII_PRIVATE_KEY:
		puts_(&o, "-----BEGIN PRIVATE KEY-----****");
		break;
	case PII_AWS_SECRET_KEY:
	case PII_PASSWORD:
		puts_(&o, "********");
		break;
	case PII_PERSON_NAME:
		mask_name(&o, v, len);
		break;
	case PII_ADDRESS:
		put(&o, (const char *)v, len ? 1 : 0);
		puts_(&o, "***");
		break;
	default:
		puts_(&o, "***");
		break;
	}
	out[o.n] = '\0';
	return o.n;
}
