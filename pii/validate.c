/*
 * Validators: what a regular expression cannot say. Card numbers pass Luhn and fall in an
 * issuer's range with that issuer's lengths; IBANs pass ISO 7064 mod 97-10 with the length
 * the IBAN registry gives their country; SSNs respect the SSA's never-issued rules; phone
 * numbers fit a national numbering plan; IPs parse; email domains end in a suffix of the
 * public suffix list; JWT headers decode to JSON with "alg"; GitHub tokens carry a CRC32 of
 * themselves; PEM blocks are closed. None of these allocate; all stop at the bytes given.
 */
#include <arpa/inet.h>
#include <libpsl.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL /* short keys and words: the call costs more than the hash */
#include <xxhash.h>

#include "validate.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Longest value any validator looks at; longer candidates are not the types we know. */
#define VALUE_MAX 256
/* A JWT or PEM block in a captured body can be long; a bound keeps the scan linear. */
#define TOKEN_MAX (16 * 1024)

static const char *const validator_names[PII_V_COUNT] = {
	[PII_V_NONE] = "none",
	[PII_V_EMAIL] = "email",
	[PII_V_CARD] = "credit_card",
	[PII_V_IBAN] = "iban",
	[PII_V_US_SSN] = "us_ssn",
	[PII_V_PHONE] = "phone",
	[PII_V_IP] = "ip_address",
	[PII_V_JWT] = "jwt",
	[PII_V_AWS_ACCESS_KEY] = "aws_access_key",
	[PII_V_AWS_SECRET_KEY] = "aws_secret_key",
	[PII_V_GITHUB_TOKEN] = "github_token",
	[PII_V_SLACK_TOKEN] = "slack_token",
	[PII_V_PRIVATE_KEY] = "private_key",
	[PII_V_PASSWORD] = "password",
	[PII_V_DATE_OF_BIRTH] = "date_of_birth",
	[PII_V_PERSON_NAME] = "person_name",
	[PII_V_ADDRESS] = "address",
};

const char *pii_validator_name(enum pii_validator v)
{
	return (unsigned)v < PII_V_COUNT ? validator_names[v] : NULL;
}

int pii_validator_parse(const char *s, size_t len)
{
	for (int i = 0; i < PII_V_COUNT; i++) {
		if (strlen(validator_names[i]) == len && !memcmp(validator_names[i], s, len))
			return i;
	}
	return -1;
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_upper(uint8_t c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_lower(uint8_t c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_alpha(uint8_t c)
{
	return is_upper(c) || is_lower(c);
}

static bool is_hex(uint8_t c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static bool is_alnum(uint8_t c)
{
	return is_alpha(c) || is_digit(c);
}

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_b64url(uint8_t c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

/* Copies the digits of v into out (at most cap); returns how many, or 0 when over cap. */
static size_t digits_of(const uint8_t *v, size_t len, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (!is_digit(v[i]))
			continue;
		if (n == cap)
			return 0;
		out[n++] = v[i];
	}
	return n;
}

static unsigned num_of(const uint8_t *d, size_t n)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	return v;
}

bool pii_luhn_ok(const uint8_t *digits, size_t n)
{
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(digits[n - 1 - i] - '0');

		if (i & 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return n > 0 && sum % 10 == 0;
}

/*
 * Issuer identification numbers and the lengths each scheme issues (ISO/IEC 7812 ranges as
 * the schemes publish them). A range that no scheme issues rejects the number whatever its
 * Luhn digit: most random digit runs fail here already.
 */
static bool card_issuer_ok(const uint8_t *d, size_t n)
{
	unsigned p2 = num_of(d, 2), p3 = num_of(d, 3), p4 = num_of(d, 4), p6 = num_of(d, 6);

	switch (d[0]) {
	case '4': /* Visa: 13, 16, 19 (and Visa-range debit of other lengths) */
		return n >= 13 && n <= 19;
	case '5': /* Mastercard 51-55: 16; Maestro 50, 56-58: 12-19 */
		if (p2 >= 51 && p2 <= 55)
			return n == 16;
		return p2 != 59 && n >= 12 && n <= 19;
	case '1': /* JCB's legacy 15-digit range */
		return p4 == 1800 && n == 15;
	case '2': /* Mastercard 2221-2720: 16; Mir 2200-2204: 16-19; legacy JCB 2131: 15 */
		if (p4 >= 2221 && p4 <= 2720)
			return n == 16;
		if (p4 == 2131)
			return n == 15;
		return p4 >= 2200 && p4 <= 2204 && n >= 16 && n <= 19;
	case '3':
		if (p2 == 34 || p2 == 37) /* American Express */
			return n == 15;
		if ((p3 >= 300 && p3 <= 305) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39)
			return n >= 14 && n <= 19; /* Diners Club */
		if (p4 >= 3528 && p4 <= 3589)	   /* JCB */
			return n >= 16 && n <= 19;
		return false;
	case '6': /* Discover 6011/644-649/65, UnionPay 62, Maestro 6x, RuPay 60 */
		if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 ||
		    (p6 >= 622126 && p6 <= 622925))
			return n >= 16 && n <= 19;
		return n >= 12 && n <= 19;
	default:
		return false;
	}
}

enum pii_verdict pii_card_check(const uint8_t *v, size_t len)
{
	uint8_t d[24];
	size_t n = 0;
	uint8_t sep = 0;

	for (size_t i = 0; i < len; i++) {
		if (is_digit(v[i])) {
			if (n == sizeof(d))
				return PII_INVALID;
			d[n++] = v[i];
		} else if (v[i] == ' ' || v[i] == '-') {
			/* one kind of separator, never doubled: "4111 1111-1111" is two things */
			if ((sep && v[i] != sep) || i == 0 || !is_digit(v[i - 1]))
				return PII_INVALID;
			sep = v[i];
		} else {
			return PII_INVALID;
		}
	}
	if (n < 12 || n > 19)
		return PII_INVALID;
	/* all one digit ("0000 0000 0000 0000", "4444...") is a placeholder even if Luhn agrees */
	bool same = true;

	for (size_t i = 1; i < n; i++)
		same = same && d[i] == d[0];
	if (same)
		return PII_INVALID;
	if (!pii_luhn_ok(d, n))
		return PII_INVALID;
	/* Luhn without a known issuer's range and length ("3505 ..." that generators and
	 * test systems write): a card only where a key or a nearby word says so */
	return card_issuer_ok(d, n) ? PII_CHECKED : PII_SHAPE;
}

/*
 * IBAN lengths per country: the SWIFT IBAN registry, plus the countries that publish IBANs
 * outside it (IR and the Francophone African banks) and that real traffic carries.
 */
static const struct {
	char cc[3];
	uint8_t len;
} iban_lengths[] = {
	{"AD", 24}, {"AE", 23}, {"AL", 28}, {"AO", 25}, {"AT", 20}, {"AZ", 28}, {"BA", 20},
	{"BE", 16}, {"BF", 28}, {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BJ", 28}, {"BR", 29},
	{"BY", 28}, {"CF", 27}, {"CG", 27}, {"CH", 21}, {"CI", 28}, {"CM", 27}, {"CR", 22},
	{"CV", 25}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28},
	{"DZ", 26}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18},
	{"FR", 27}, {"GA", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GQ", 27},
	{"GR", 27}, {"GT", 28}, {"GW", 25}, {"HN", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22},
	{"IL", 23}, {"IQ", 23}, {"IR", 26}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KM", 27},
	{"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
	{"LV", 21}, {"LY", 25}, {"MA", 28}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MG", 27},
	{"MK", 19}, {"ML", 28}, {"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"MZ", 25},
	{"NE", 28}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
	{"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24},
	{"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SN", 28},
	{"SO", 23}, {"ST", 25}, {"SV", 28}, {"TD", 27}, {"TG", 28}, {"TL", 23}, {"TN", 24},
	{"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

enum pii_verdict pii_iban_check(const uint8_t *v, size_t len)
{
	uint8_t s[40];
	size_t n = 0;
	unsigned rem = 0;
	int want = -1;

	for (size_t i = 0; i < len; i++) {
		if (v[i] == ' ')
			continue;
		if (n == sizeof(s) || !(is_digit(v[i]) || is_upper(v[i])))
			return PII_INVALID;
		s[n++] = v[i];
	}
	if (n < 15 || !is_upper(s[0]) || !is_upper(s[1]) || !is_digit(s[2]) || !is_digit(s[3]))
		return PII_INVALID;
	/* the registry's table is in country order */
	for (size_t lo = 0, hi = ARRAY_SIZE(iban_lengths); lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		int d = memcmp(s, iban_lengths[mid].cc, 2);

		if (d == 0) {
			want = iban_lengths[mid].len;
			break;
		}
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (want < 0 || (size_t)want != n)
		return PII_INVALID;
	/* ISO 13616: move the first four characters to the end, letters as 10..35, mod 97;
	 * taken modulo once per 14 digits (remainder < 97 times 10^14 fits 64 bits) */
	uint64_t acc = 0;
	unsigned digits = 0;

	for (size_t k = 0; k < n; k++) {
		uint8_t c = s[k + 4 < n ? k + 4 : k + 4 - n];

		if (is_digit(c)) {
			acc = acc * 10 + (unsigned)(c - '0');
			digits++;
		} else {
			acc = acc * 100 + (unsigned)(c - 'A' + 10);
			digits += 2;
		}
		if (digits >= 14) {
			acc %= 97;
			digits = 2;
		}
	}
	rem = (unsigned)(acc % 97);
	return rem == 1 ? PII_CHECKED : PII_INVALID;
}

/*
 * Social Security numbers the SSA never issues: area 000, 666 or 900-999, group 00, serial
 * 0000, and the numbers published in advertising and reused ever since (SSA, "Social
 * Security Number Randomization" and POMS RM 10201.035).
 */
enum pii_verdict pii_ssn_check(const uint8_t *v, size_t len)
{
	uint8_t d[9];
	unsigned area, group, serial;

	if (len == 11) {
		if (v[3] != v[6] || (v[3] != '-' && v[3] != ' '))
			return PII_INVALID;
		for (size_t i = 0, n = 0; i < len; i++) {
			if (i == 3 || i == 6)
				continue;
			if (!is_digit(v[i]))
				return PII_INVALID;
			d[n++] = v[i];
		}
	} else if (len == 9) {
		for (size_t i = 0; i < 9; i++) {
			if (!is_digit(v[i]))
				return PII_INVALID;
			d[i] = v[i];
		}
	} else {
		return PII_INVALID;
	}
	area = num_of(d, 3);
	group = num_of(d + 3, 2);
	serial = num_of(d + 5, 4);
	if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
		return PII_INVALID;
	if ((area == 78 && group == 5 && serial == 1120) ||
	    (area == 219 && group == 9 && serial == 9999) ||
	    (area == 123 && group == 45 && serial == 6789))
		return PII_INVALID;
	return PII_CHECKED;
}

/*
 * National significant number lengths by country calling code (ITU-T E.164 and the national
 * plans the ITU publishes), for the countries most traffic carries. A code not listed still
 * passes as a plain E.164 shape.
 */
static const struct {
	uint16_t cc;
	uint8_t min, max;
} phone_plans[] = {
	{1, 10, 10},  {7, 10, 10},  {20, 9, 10},  {27, 9, 9},	{30, 10, 10}, {31, 9, 9},
	{32, 8, 9},   {33, 9, 9},   {34, 9, 9},	  {36, 8, 9},	{39, 6, 11},  {40, 9, 9},
	{41, 9, 9},   {43, 4, 13},  {44, 9, 10},  {45, 8, 8},	{46, 7, 13},  {47, 8, 8},
	{48, 9, 9},   {49, 6, 13},  {51, 8, 9},	  {52, 10, 10}, {54, 10, 10}, {55, 10, 11},
	{56, 9, 9},   {57, 10, 10}, {60, 8, 10},  {61, 9, 9},	{62, 8, 12},  {63, 10, 10},
	{64, 8, 10},  {65, 8, 8},   {66, 8, 9},	  {81, 9, 10},	{82, 8, 10},  {84, 9, 10},
	{86, 10, 11}, {90, 10, 10}, {91, 10, 10}, {92, 9, 10},	{234, 8, 10}, {254, 9, 9},
	{351, 9, 9},  {352, 6, 11}, {353, 7, 9},  {358, 5, 12}, {380, 9, 9},  {420, 9, 9},
	{421, 9, 9},  {852, 8, 8},  {886, 8, 9},  {966, 9, 9},	{971, 8, 9},  {972, 8, 9},
};

/* North American Numbering Plan: NXX-NXX-XXXX, no N11 area or exchange codes. */
static bool nanp_ok(const uint8_t *d)
{
	if (d[0] < '2' || d[3] < '2')
		return false;
	if (d[1] == '1' && d[2] == '1')
		return false;
	if (d[4] == '1' && d[5] == '1')
		return false;
	return true;
}

/* Cuts an extension ("x123", "ext. 123", "#123") off a phone candidate. */
static size_t phone_strip_extension(const uint8_t *v, size_t len)
{
	for (size_t i = 1; i < len; i++) {
		if (v[i] == 'x' || v[i] == 'X' || v[i] == '#' || v[i] == 'e' || v[i] == 'E') {
			size_t k = i;

			while (k > 0 && v[k - 1] == ' ')
				k--;
			return k;
		}
	}
	return len;
}

enum pii_verdict pii_phone_check(const uint8_t *v, size_t len)
{
	uint8_t d[20];
	size_t n, i = 0;
	bool intl = false;

	len = phone_strip_extension(v, len);
	while (i < len && v[i] == ' ')
		i++;
	if (i < len && v[i] == '+') {
		intl = true;
		i++;
	} else if (len - i > 3 && v[i] == '%' && v[i + 1] == '2' && (v[i + 2] | 0x20) == 'b') {
		intl = true; /* '+' percent-encoded in a query string */
		i += 3;
	}
	/* "+44 (0)20 ...": the national trunk prefix written in brackets is not dialled */
	uint8_t buf[48];
	size_t bn = 0;

	for (; i < len && bn < sizeof(buf); i++) {
		if (intl && i + 2 < len && v[i] == '(' && v[i + 1] == '0' && v[i + 2] == ')') {
			i += 2;
			continue;
		}
		buf[bn++] = v[i];
	}
	for (size_t k = 0; k < bn; k++) {
		uint8_t c = buf[k];

		if (!is_digit(c) && c != ' ' && c != '-' && c != '.' && c != '(' && c != ')' &&
		    c != '/')
			return PII_INVALID;
	}
	n = digits_of(buf, bn, d, sizeof(d));
	if (n == 0)
		return PII_INVALID;
	if (!intl && n > 2 && d[0] == '0' && d[1] == '0') { /* 00 is the international prefix */
		intl = true;
		memmove(d, d + 2, n - 2);
		n -= 2;
	}
	if (intl) {
		if (n < 7 || n > 15 || d[0] == '0')
			return PII_INVALID;
		for (size_t k = 0; k < ARRAY_SIZE(phone_plans); k++) {
			unsigned cc = phone_plans[k].cc;
			size_t ccl = cc >= 100 ? 3 : cc >= 10 ? 2 : 1;

			if (num_of(d, ccl) != cc)
				continue;
			size_t nsn = n - ccl;

			if (nsn < phone_plans[k].min || nsn > phone_plans[k].max)
				return PII_INVALID;
			if (cc == 1)
				return nanp_ok(d + 1) ? PII_CHECKED : PII_INVALID;
			/* after the country code the trunk 0 is dropped, except in Italy */
			if (d[ccl] == '0' && cc != 39)
				return PII_INVALID;
			return PII_CHECKED;
		}
		return n >= 8 ? PII_SHAPE : PII_INVALID;
	}
	if (n == 11 && d[0] == '1')
		return nanp_ok(d + 1) ? PII_CHECKED : PII_INVALID;
	if (n == 10 && d[0] != '0')
		return nanp_ok(d) ? PII_CHECKED : PII_INVALID;
	/* trunk prefix 0 then an area or mobile code (UK, DE, FR, IT, NL, AU, ...) */
	if (d[0] == '0' && d[1] != '0' && n >= 9 && n <= 13)
		return n == 10 || n == 11 ? PII_CHECKED : PII_SHAPE;
	return PII_INVALID;
}

/* A dotted quad, each part 0..255 without leading zeros. */
static bool ipv4_ok(const uint8_t *v, size_t len)
{
	unsigned parts = 0, val = 0, digits = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || v[i] == '.') {
			if (digits == 0 || val > 255 || (digits > 1 && v[i - digits] == '0'))
				return false;
			parts++;
			val = digits = 0;
		} else if (is_digit(v[i]) && digits < 3) {
			val = val * 10 + (unsigned)(v[i] - '0');
			digits++;
		} else {
			return false;
		}
	}
	return parts == 4;
}

enum pii_verdict pii_ip_check(const uint8_t *v, size_t len)
{
	char buf[64];
	struct in6_addr a6;

	if (len == 0 || len >= sizeof(buf))
		return PII_INVALID;
	if (memchr(v, ':', len)) {
		memcpy(buf, v, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return PII_INVALID;
		/* "::" alone and "1::" style runs are too short to be an address someone has */
		return len >= 3 ? PII_CHECKED : PII_INVALID;
	}
	if (!ipv4_ok(v, len))
		return PII_INVALID;
	/* 0.0.0.0 and 255.255.255.255 are masks and wildcards, not anyone's address */
	if ((len == 7 && !memcmp(v, "0.0.0.0", 7)) ||
	    (len == 15 && !memcmp(v, "255.255.255.255", 15)))
		return PII_INVALID;
	return PII_CHECKED;
}

/* RFC 5322 atext, and UTF-8 (RFC 6531: josé.garcía@example.es) */
static bool email_local_char(uint8_t c)
{
	if (is_alnum(c) || c >= 0x80)
		return true;
	switch (c) { /* RFC 5322 atext, and the dots between its atoms */
	case '.':
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '/':
	case '=':
	case '?':
	case '^':
	case '_':
	case '`':
	case '{':
	case '|':
	case '}':
	case '~':
	case '-':
		return true;
	default:
		return false;
	}
}

/* Is the domain's last label a real suffix, with a registrable name below the suffix? */
static bool domain_registrable(const struct psl_ctx_st *psl, const char *domain, size_t tld)
{
	/* the top-level label must be a real suffix (not libpsl's "*" rule for unknown ones),
	 * and the domain must have a registrable part below its suffix: not user@co.uk */
	return psl_is_public_suffix2(psl, domain + tld, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) &&
	       !psl_is_public_suffix2(psl, domain, PSL_TYPE_ANY);
}

static bool domain_registrable_memo(struct pii_psl_memo *m, const char *domain, size_t len,
				    size_t tld)
{
	uint64_t h = XXH3_64bits(domain, len) | 1; /* never 0, the empty mark */
	uint32_t i;

	i = (uint32_t)(h >> 32) & (PII_PSL_MEMO_SLOTS - 1);
	if (m->slot[i].hash != h) { /* a miss overwrites: a memory, not a record */
		m->slot[i].hash = h;
		m->slot[i].registrable = domain_registrable(m->psl, domain, tld);
	}
	return m->slot[i].registrable;
}

static enum pii_verdict email_check(const struct psl_ctx_st *psl, struct pii_psl_memo *memo,
				    const uint8_t *v, size_t len)
{
	size_t at = len, dom, labels = 0, label_len = 0, tld = 0;
	char domain[256];
	size_t dn = 0;

	for (size_t i = 0; i < len; i++) {
		if (v[i] == '@') {
			at = i;
			dom = i + 1;
			break;
		}
		if (v[i] == '%' && i + 2 < len && v[i + 1] == '4' && v[i + 2] == '0') {
			at = i;
			dom = i + 3;
			break;
		}
	}
	if (at == 0 || at > 64 || at == len)
		return PII_INVALID;
	for (size_t i = 0; i < at; i++) {
		if (!email_local_char(v[i]) || (v[i] == '.' && (i == 0 || i + 1 == at)) ||
		    (v[i] == '.' && v[i + 1] == '.'))
			return PII_INVALID;
	}
	if (len - dom < 4 || len - dom > 253)
		return PII_INVALID;
	for (size_t i = dom; i <= len; i++) {
		uint8_t c = i < len ? v[i] : '.';

		if (c == '.') {
			if (label_len == 0 || domain[dn - 1] == '-' || label_len > 63)
				return PII_INVALID;
			labels++;
			label_len = 0;
			if (i < len)
				tld = dn + 1;
		} else if (is_alnum(c) || c == '-') {
			if (label_len == 0 && c == '-')
				return PII_INVALID;
			label_len++;
		} else {
			return PII_INVALID;
		}
		if (i < len)
			domain[dn++] = (char)(is_upper(c) ? c | 0x20 : c); /* ASCII: no locale */
	}
	domain[dn] = '\0';
	if (labels < 2 || dn - tld < 2)
		return PII_INVALID;
	for (size_t i = tld; i < dn; i++) {
		if (!is_alpha((uint8_t)domain[i]) &&
		    !(dn - tld > 4 && !memcmp(domain + tld, "xn--", 4)))
			return PII_INVALID;
	}
	if (memo && memo->psl)
		return domain_registrable_memo(memo, domain, dn, tld) ? PII_CHECKED : PII_INVALID;
	if (!psl)
		return PII_SHAPE;
	return domain_registrable(psl, domain, tld) ? PII_CHECKED : PII_INVALID;
}

enum pii_verdict pii_email_check(const struct psl_ctx_st *psl, const uint8_t *v, size_t len)
{
	return email_check(psl, NULL, v, len);
}

static int b64url_val(uint8_t c)
{
	if (is_upper(c))
		return c - 'A';
	if (is_lower(c))
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

/* Decodes base64url (no padding) into out; returns the bytes written or -1. */
static long b64url_decode(const uint8_t *v, size_t len, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int x = b64url_val(v[i]);

		if (x < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)x;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return (long)n;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)n;
}

static bool json_object_like(const uint8_t *d, size_t n)
{
	size_t i = 0;

	while (i < n && is_space(d[i]))
		i++;
	return i < n && d[i] == '{';
}

enum pii_verdict pii_jwt_check(const uint8_t *v, size_t len)
{
	size_t dot1 = 0, dot2 = 0, dots = 0;
	uint8_t hdr[768], body[16];
	long hn, bn;

	for (size_t i = 0; i < len; i++) {
		if (v[i] == '.') {
			if (++dots == 1)
				dot1 = i;
			else if (dots == 2)
				dot2 = i;
			else
				return PII_INVALID;
		} else if (!is_b64url(v[i])) {
			return PII_INVALID;
		}
	}
	if (dots != 2 || dot1 < 10 || dot2 - dot1 < 3 || dot1 > 4 * sizeof(hdr) / 3)
		return PII_INVALID;
	hn = b64url_decode(v, dot1, hdr, sizeof(hdr));
	if (hn < 8 || !json_object_like(hdr, (size_t)hn) || !memmem(hdr, (size_t)hn, "\"alg\"", 5))
		return PII_INVALID;
	bn = b64url_decode(v + dot1 + 1, dot2 - dot1 - 1 > 20 ? 20 : dot2 - dot1 - 1, body,
			   sizeof(body));
	if (bn < 1 || !json_object_like(body, (size_t)bn))
		return PII_INVALID;
	return PII_CHECKED;
}

static const char *const aws_key_prefixes[] = {"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA",
					       "AIPA", "ANPA", "ANVA", "AROA", "APKA", "ASCA"};

/* AWS key ids: a 4-letter prefix naming the kind of principal, then 16 base32 characters. */
enum pii_verdict pii_aws_access_key_check(const uint8_t *v, size_t len)
{
	bool known = false;

	if (len != 20)
		return PII_INVALID;
	for (size_t i = 0; i < ARRAY_SIZE(aws_key_prefixes); i++)
		known = known || !memcmp(v, aws_key_prefixes[i], 4);
	if (!known)
		return PII_INVALID;
	for (size_t i = 4; i < len; i++) {
		if (!is_upper(v[i]) && !(v[i] >= '2' && v[i] <= '7'))
			return PII_INVALID;
	}
	return PII_CHECKED;
}

/*
 * 40 characters of base64 drawn at random: mixed case and digits. Forty hex digits (a SHA-1,
 * a git commit) or a word are not one, so that much entropy is asked of it.
 */
enum pii_verdict pii_aws_secret_key_check(const uint8_t *v, size_t len)
{
	bool up = false, low = false, dig = false, hex = true;

	if (len != 40)
		return PII_INVALID;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = v[i];

		if (!is_alnum(c) && c != '/' && c != '+')
			return PII_INVALID;
		up = up || is_upper(c);
		low = low || is_lower(c);
		dig = dig || is_digit(c);
		hex = hex && (is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
	}
	return up && low && dig && !hex ? PII_SHAPE : PII_INVALID;
}

uint32_t pii_crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static int base62_val(uint8_t c)
{
	if (is_digit(c))
		return c - '0';
	if (is_upper(c))
		return c - 'A' + 10;
	if (is_lower(c))
		return c - 'a' + 36;
	return -1;
}

/*
 * GitHub's token formats (github.blog, 2021-04-05): a prefix naming the kind (ghp_ personal,
 * gho_ OAuth, ghu_ user-to-server, ghs_ server-to-server, ghr_ refresh), 30 random base62
 * characters and 6 more that are the CRC32 of those 30, in base62. Fine-grained tokens
 * (github_pat_) publish no checksum: their shape is all there is.
 */
enum pii_verdict pii_github_token_check(const uint8_t *v, size_t len)
{
	uint64_t sum = 0;

	if (len == 93 && !memcmp(v, "github_pat_", 11)) {
		for (size_t i = 11; i < len; i++) {
			if (!is_alnum(v[i]) && !(v[i] == '_' && i == 33))
				return PII_INVALID;
		}
		return v[33] == '_' ? PII_SHAPE : PII_INVALID;
	}
	if (len != 40 || v[0] != 'g' || v[1] != 'h' || !strchr("pousr", v[2]) || !v[2] ||
	    v[3] != '_')
		return PII_INVALID;
	for (size_t i = 4; i < len; i++) {
		if (!is_alnum(v[i]))
			return PII_INVALID;
	}
	for (size_t i = 34; i < 40; i++)
		sum = sum * 62 + (uint64_t)base62_val(v[i]);
	return sum == pii_crc32(v + 4, 30) ? PII_CHECKED : PII_INVALID;
}

/*
 * Slack tokens: xoxb-<team>-<bot>-<secret>, xoxp-<team>-<user>-<user>-<secret>, and the
 * other xox? kinds; incoming webhooks carry the secret in the URL path.
 */
enum pii_verdict pii_slack_token_check(const uint8_t *v, size_t len)
{
	static const char hook[] = "https://hooks.slack.com/services/";
	size_t segs = 0, seg_len = 0, digit_segs = 0, last_len = 0;

	if (len > sizeof(hook) - 1 && !memcmp(v, hook, sizeof(hook) - 1)) {
		size_t slashes = 0;

		for (size_t i = sizeof(hook) - 1; i < len; i++) {
			if (v[i] == '/')
				slashes++;
			else if (!is_alnum(v[i]))
				return PII_INVALID;
		}
		return slashes == 2 && v[sizeof(hook) - 1] == 'T' && len >= sizeof(hook) + 40
			       ? PII_CHECKED
			       : PII_INVALID;
	}
	size_t body;

	if (len < 20 || len > 255)
		return PII_INVALID;
	/* configuration tokens (xoxe.xoxp-1-..., xoxe-1-...) are one long random run: no
	 * numeric team and user ids to check, only the prefix, the version and the length */
	if ((len > 12 && !memcmp(v, "xoxe.xox", 8) && (v[8] == 'b' || v[8] == 'p') && v[9] == '-' &&
	     is_digit(v[10]) && v[11] == '-') ||
	    (!memcmp(v, "xoxe-", 5) && is_digit(v[5]) && v[6] == '-')) {
		body = v[4] == '.' ? 12 : 7;
		for (size_t i = body; i < len; i++) {
			if (!is_alnum(v[i]) && v[i] != '-')
				return PII_INVALID;
		}
		return len - body >= 100 ? PII_CHECKED : len - body >= 40 ? PII_SHAPE : PII_INVALID;
	}
	/* xoxb- (bot), xoxp- (user), xoxa- (workspace app), ...; xapp- (app-level) */
	if (!memcmp(v, "xapp-", 5))
		body = 5;
	else if (!memcmp(v, "xox", 3) && v[3] && strchr("abposre", v[3]) && v[4] == '-')
		body = 5;
	else
		return PII_INVALID;
	bool all_digits = true;

	for (size_t i = body; i <= len; i++) {
		if (i == len || v[i] == '-') {
			if (seg_len == 0)
				return PII_INVALID;
			segs++;
			digit_segs += all_digits;
			last_len = seg_len;
			seg_len = 0;
			all_digits = true;
		} else if (is_alnum(v[i])) {
			seg_len++;
			all_digits = all_digits && is_digit(v[i]);
		} else {
			return PII_INVALID;
		}
	}
	if (segs >= 3 && digit_segs >= 2 && last_len >= 16)
		return PII_CHECKED;
	return segs >= 2 && last_len >= 16 ? PII_SHAPE : PII_INVALID;
}

/*
 * A PEM private key (RFC 7468): the BEGIN line, base64 (with optional RFC 1421 headers),
 * and the matching END line. A block cut short by the capture budget still counts when
 * enough of the body is there; a BEGIN line alone (documentation, a grep) does not.
 */
enum pii_verdict pii_private_key_check(const uint8_t *v, size_t len)
{
	const uint8_t *label, *label_end, *body;
	char end_line[96];
	size_t label_len, b64 = 0;
	const uint8_t *end;

	if (len < 31 || memcmp(v, "-----BEGIN ", 11))
		return PII_INVALID;
	label = v + 11;
	label_end = memmem(label, len - 11, "-----", 5);
	if (!label_end)
		return PII_INVALID;
	label_len = (size_t)(label_end - label);
	if (label_len < 11 || label_len > 60 || memcmp(label_end - 11, "PRIVATE KEY", 11))
		return PII_INVALID;
	body = label_end + 5;
	snprintf(end_line, sizeof(end_line), "-----END %.*s-----", (int)label_len,
		 (const char *)label);
	end = memmem(body, len - (size_t)(body - v), end_line, strlen(end_line));
	for (const uint8_t *p = body; p < (end ? end : v + len); p++) {
		if (b64url_val(*p) >= 0 || *p == '=')
			b64++;
		else if (!is_space(*p) && *p != '\\' && *p != ':' && *p != ',')
			return PII_INVALID;
	}
	if (b64 < 64)
		return PII_INVALID;
	return end ? PII_CHECKED : PII_SHAPE;
}

static bool has_prefix_ci(const uint8_t *v, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && !strncasecmp((const char *)v, p, n);
}

static bool eq_ci(const uint8_t *v, size_t len, const char *p)
{
	/* the first byte turns most words away before any length or library call */
	return len > 0 && (v[0] | 0x20) == (p[0] | 0x20) && strlen(p) == len &&
	       !strncasecmp((const char *)v, p, len);
}

static bool all_hex(const uint8_t *v, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!is_hex(v[i]))
			return false;
	}
	return true;
}

/*
 * A value under a password-like key is a password unless it is visibly something else: an
 * empty or placeholder value, a bind marker, a template variable, or a stored hash (which is
 * what a password column should hold, and not a cleartext password).
 */
enum pii_verdict pii_password_check(const uint8_t *v, size_t len)
{
	static const char *const placeholders[] = {
		"null",	     "none",	 "nil",	       "true",	     "false",
		"undefined", "redacted", "[redacted]", "<redacted>", "[filtered]",
		"hidden",    "secret",	 "password",   "changeme",   "n/a",
		"-",	     "default",	 "empty",      "unset",	     "?",
	};
	static const char *const hash_prefixes[] = {
		"$2a$",	   "$2b$",   "$2y$",  "$argon2",  "$1$",   "$5$",  "$6$",     "$scrypt$",
		"pbkdf2_", "{SSHA}", "{SHA}", "{bcrypt}", "sha1$", "md5$", "bcrypt$", "scrypt:",
	};
	bool stars = true;

	if (len == 0 || len > 128)
		return PII_INVALID;
	for (size_t i = 0; i < ARRAY_SIZE(placeholders); i++) {
		if (eq_ci(v, len, placeholders[i]))
			return PII_INVALID;
	}
	for (size_t i = 0; i < ARRAY_SIZE(hash_prefixes); i++) {
		if (has_prefix_ci(v, len, hash_prefixes[i]))
			return PII_INVALID;
	}
	for (size_t i = 0; i < len; i++) {
		stars = stars && (v[i] == '*' || v[i] == 'x' || v[i] == 'X' || v[i] == '.');
		if (v[i] < 0x20 || v[i] == 0x7f)
			return PII_INVALID;
	}
	if (stars)
		return PII_INVALID;
	if ((v[0] == '$' || v[0] == ':' || v[0] == '@') && len <= 4 && is_digit(v[len - 1]))
		return PII_INVALID; /* $1, :1, @p1: bind markers */
	if ((v[0] == '$' && len > 1 && v[1] == '{') || (v[0] == '{' && len > 1 && v[1] == '{') ||
	    (v[0] == '%' && len == 2))
		return PII_INVALID; /* ${VAR}, {{var}}, %s */
	if ((len == 32 || len == 40 || len == 64 || len == 128) && all_hex(v, len))
		return PII_INVALID; /* md5/sha1/sha256/sha512 hex digests */
	return PII_SHAPE;
}

/* Reads 1..max digits at *i; -1 when there are none. */
static int read_num(const uint8_t *v, size_t len, size_t *i, int max)
{
	int val = 0, n = 0;

	while (*i < len && is_digit(v[*i]) && n < max) {
		val = val * 10 + (v[*i] - '0');
		(*i)++;
		n++;
	}
	if (*i < len && is_digit(v[*i]))
		return -1; /* more digits than the field holds */
	return n ? val : -1;
}

/* Month names and their usual abbreviations in English, German, French, Spanish, Italian
 * and Dutch (lower case, UTF-8). */
static const struct {
	const char *name;
	int month;
} month_names[] = {
	{"january", 1},	   {"januar", 1},     {"janvier", 1},	{"enero", 1},	  {"gennaio", 1},
	{"januari", 1},	   {"jänner", 1},     {"february", 2},	{"februar", 2},	  {"février", 2},
	{"fevrier", 2},	   {"febrero", 2},    {"febbraio", 2},	{"februari", 2},  {"march", 3},
	{"märz", 3},	   {"maerz", 3},      {"mars", 3},	{"marzo", 3},	  {"maart", 3},
	{"april", 4},	   {"avril", 4},      {"abril", 4},	{"aprile", 4},	  {"may", 5},
	{"mai", 5},	   {"mayo", 5},	      {"maggio", 5},	{"mei", 5},	  {"june", 6},
	{"juni", 6},	   {"juin", 6},	      {"junio", 6},	{"giugno", 6},	  {"july", 7},
	{"juli", 7},	   {"juillet", 7},    {"julio", 7},	{"luglio", 7},	  {"august", 8},
	{"août", 8},	   {"aout", 8},	      {"agosto", 8},	{"augustus", 8},  {"september", 9},
	{"septembre", 9},  {"septiembre", 9}, {"settembre", 9}, {"october", 10},  {"oktober", 10},
	{"octobre", 10},   {"octubre", 10},   {"ottobre", 10},	{"november", 11}, {"novembre", 11},
	{"noviembre", 11}, {"december", 12},  {"dezember", 12}, {"décembre", 12}, {"decembre", 12},
	{"diciembre", 12}, {"dicembre", 12},
};

/*
 * A month name at *i, whole or abbreviated to at least three letters ("Sept.", "Okt",
 * "déc."); an abbreviation two months share ("ju") is no month. Returns 1..12 or -1.
 */
static int read_month_name(const uint8_t *v, size_t len, size_t *i)
{
	size_t s = *i, n;
	int month = -1;

	while (*i < len && (is_alpha(v[*i]) || v[*i] >= 0x80))
		(*i)++;
	n = *i - s;
	if (n < 3)
		return -1;
	for (size_t k = 0; k < ARRAY_SIZE(month_names); k++) {
		const char *m = month_names[k].name;

		if (strlen(m) < n || strncasecmp((const char *)v + s, m, n))
			continue;
		if (month > 0 && month != month_names[k].month)
			return -1; /* ambiguous abbreviation */
		month = month_names[k].month;
	}
	if (month > 0 && *i < len && v[*i] == '.')
		(*i)++; /* "Sept." */
	return month;
}

/* " de " between the parts of a Spanish or Portuguese date ("10 de mayo de 1990"). */
static void skip_date_particle(const uint8_t *v, size_t len, size_t *i)
{
	if (len - *i > 3 && v[*i] == 'd' && v[*i + 1] == 'e' && v[*i + 2] == ' ')
		*i += 3;
}

static bool date_ok(int y, int m, int d)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	time_t now = time(NULL);
	struct tm tm;
	bool leap;

	gmtime_r(&now, &tm);
	if (y < 1900 || y > tm.tm_year + 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && d == 29 && !leap);
}

/*
 * Parses a calendar date at the start of v: 1985-03-02, 1985/03/02, 03/02/1985, 02.03.1985,
 * "March 2, 1985", "2 March 1985", "6. September 1994", "11 juin 1996", "10 de mayo de
 * 1990". Returns the bytes it took, or 0.
 */
static size_t date_parse(const uint8_t *v, size_t len)
{
	size_t i = 0;
	int a, b, c;

	if (i < len && is_alpha(v[i])) { /* March 2, 1985 */
		int m = read_month_name(v, len, &i);

		if (m < 0)
			return 0;
		if (i >= len || v[i] != ' ')
			return 0;
		i++;
		b = read_num(v, len, &i, 2);
		if (i < len && v[i] == ',')
			i++;
		if (i >= len || v[i] != ' ')
			return 0;
		i++;
		c = read_num(v, len, &i, 4);
		return date_ok(c, m, b) ? i : 0;
	}
	a = read_num(v, len, &i, 4);
	if (a < 0 || i >= len)
		return 0;
	if (v[i] == '.' && i + 2 < len && v[i + 1] == ' ' && !is_digit(v[i + 2]))
		i++;	   /* German "6. September 1994" */
	if (v[i] == ' ') { /* 2 March 1985, 6. September 1994, 10 de mayo de 1990 */
		i++;
		skip_date_particle(v, len, &i);
		int m = read_month_name(v, len, &i);

		if (m < 0 || i >= len || v[i] != ' ')
			return 0;
		i++;
		skip_date_particle(v, len, &i);
		c = read_num(v, len, &i, 4);
		return date_ok(c, m, a) ? i : 0;
	}
	uint8_t sep = v[i];

	if (sep != '-' && sep != '/' && sep != '.')
		return 0;
	i++;
	b = read_num(v, len, &i, 2);
	if (b < 0 || i >= len || v[i] != sep)
		return 0;
	i++;
	c = read_num(v, len, &i, 4);
	if (c < 0)
		return 0;
	if (a >= 1000) /* year first */
		return date_ok(a, b, c) ? i : 0;
	if (c < 1000)
		return 0;
	/* 03/02/1985 is March 2 in the US and 3 February elsewhere: either reading will do */
	return date_ok(c, a, b) || date_ok(c, b, a) ? i : 0;
}

static void trim(struct pii_cand_view *c)
{
	while (c->start < c->end && (is_space(c->text[c->start]) || c->text[c->start] == '"' ||
				     c->text[c->start] == '\''))
		c->start++;
	while (c->end > c->start && (is_space(c->text[c->end - 1]) || c->text[c->end - 1] == '"' ||
				     c->text[c->end - 1] == '\''))
		c->end--;
}

enum pii_verdict pii_date_of_birth_check(const uint8_t *v, size_t len)
{
	size_t n = date_parse(v, len);

	return n && n == len ? PII_SHAPE : PII_INVALID;
}

static bool name_byte(uint8_t c)
{
	return is_alpha(c) || c >= 0x80 || c == '\'' || c == '-' || c == '.';
}

static bool name_start(uint8_t c)
{
	return is_upper(c) || (c >= 0xc3 && c <= 0xdf); /* Latin-1 Supplement and beyond */
}

/* The bytes of a space between words: ' ', or '+' and "%20" in a query string. */
static size_t name_space(const uint8_t *v, size_t len, size_t i)
{
	if (i < len && (v[i] == ' ' || v[i] == '+'))
		return 1;
	return len - i >= 3 && v[i] == '%' && v[i + 1] == '2' && v[i + 2] == '0' ? 3 : 0;
}

/* A lower-case particle inside a name: "van der", "de la", "von", "di", "dos". */
static size_t name_particle(const uint8_t *v, size_t len, size_t i)
{
	static const char *const particles[] = {"van", "der", "den", "de",  "la",  "le",  "von",
						"zu",  "du",  "des", "di",  "da",  "del", "dos",
						"das", "ten", "ter", "uit", "het", "y",	  "e"};

	for (size_t k = 0; k < ARRAY_SIZE(particles); k++) {
		size_t n = strlen(particles[k]);

		if (len - i > n && !memcmp(v + i, particles[k], n) && name_space(v, len, i + n))
			return n;
	}
	return 0;
}

/*
 * Counts the bytes of capitalised words at the start of v; *words gets how many. Particles
 * ("Jason van de Veen") join capitalised words but neither start nor end a name.
 */
static size_t name_words(const uint8_t *v, size_t len, int *words)
{
	size_t i = 0, end = 0;

	*words = 0;
	while (i < len && *words < 6) {
		size_t s = i, sp, j;

		if (!name_start(v[i]))
			break;
		while (i < len && name_byte(v[i]))
			i++;
		if (i - s < 2 && !(i - s == 1 && i < len && v[i] == '.'))
			break;
		(*words)++;
		end = i;
		sp = name_space(v, len, i);
		if (!sp)
			break;
		/* up to three particles, then a capitalised word must follow */
		j = i + sp;
		for (int k = 0; k < 3 && j < len && !name_start(v[j]); k++) {
			size_t n = name_particle(v, len, j);

			if (!n)
				break;
			j += n;
			j += name_space(v, len, j);
		}
		if (j < len && name_start(v[j]))
			i = j;
		else
			break;
	}
	return end;
}

/*
 * An address header (RFC 5322 3.6.2/3.6.3: From, To, Cc, Bcc, Reply-To, Sender) at
 * t[start]: where its display name starts (past the colon, spaces and an opening quote),
 * or 0 when there is none.
 */
static size_t mail_header_name(const uint8_t *t, size_t len, size_t start)
{
	static const char *const headers[] = {
		"from:", "to:", "cc:", "bcc:", "reply-to:", "sender:"};

	if (start >= len)
		return 0;
	for (size_t k = 0; k < ARRAY_SIZE(headers); k++) {
		size_t n, i;

		/* the first byte turns most values away before any length or library call */
		if ((t[start] | 0x20) != headers[k][0])
			continue;
		n = strlen(headers[k]);
		i = start + n;
		if (len - start <= n || strncasecmp((const char *)t + start, headers[k], n))
			continue;
		while (i < len && i - start - n < 3 && t[i] == ' ')
			i++;
		if (i < len && t[i] == '"')
			i++;
		return i < len ? i : 0;
	}
	return 0;
}

enum pii_verdict pii_person_name_check(const uint8_t *v, size_t len)
{
	static const char *const not_names[] = {"Null",	 "None",     "Test",  "Unknown",
						"Admin", "User",     "Guest", "Anonymous",
						"N/A",	 "Customer", "Name"};
	int words;
	size_t n;

	if (len < 2 || len > 64)
		return PII_INVALID;
	for (size_t i = 0; i < ARRAY_SIZE(not_names); i++) {
		if (eq_ci(v, len, not_names[i]))
			return PII_INVALID;
	}
	n = name_words(v, len, &words);
	return n == len && words >= 1 && words <= 5 ? PII_SHAPE : PII_INVALID;
}

/* "Apt. 339", "Suite 230", "Unit 4", "#12" after a street. */
static size_t address_unit(const uint8_t *v, size_t len)
{
	static const char *const units[] = {"Apt. ", "Apt ", "Suite ", "Unit ", "#", "Ste. "};
	size_t i = 0;

	if (i < len && (v[i] == ' ' || v[i] == ','))
		i++;
	if (i < len && v[i] == ' ')
		i++;
	for (size_t k = 0; k < ARRAY_SIZE(units); k++) {
		size_t n = strlen(units[k]);

		if (len - i > n && !memcmp(v + i, units[k], n) && is_digit(v[i + n])) {
			i += n;
			while (i < len && is_alnum(v[i]))
				i++;
			return i;
		}
	}
	return 0;
}

/* ", Springfield, IL 62704" or ", Springfield, IL" after a street. */
static size_t address_city(const uint8_t *v, size_t len)
{
	size_t i = 0;
	int words;
	size_t n;

	if (len < 6 || v[0] != ',' || v[1] != ' ')
		return 0;
	i = 2;
	n = name_words(v + i, len - i, &words);
	if (!n || words > 3)
		return 0;
	i += n;
	if (len - i < 4 || v[i] != ',' || v[i + 1] != ' ' || !is_upper(v[i + 2]) ||
	    !is_upper(v[i + 3]) || (len - i > 4 && is_alnum(v[i + 4])))
		return 0;
	i += 4;
	if (len - i >= 6 && v[i] == ' ' && is_digit(v[i + 1])) {
		size_t k = i + 1, d = 0;

		while (k < len && is_digit(v[k]) && d < 6) {
			k++;
			d++;
		}
		if (d == 5 && !(k < len && is_alnum(v[k]))) {
			i = k;
			if (len - i >= 5 && v[i] == '-' && is_digit(v[i + 1]) && is_digit(v[i + 4]))
				i += 5;
		}
	}
	return i;
}

/* A street line: a house number then words ("7462 Jeffery Valley", "12 Rue de la Paix"). */
enum pii_verdict pii_address_check(const uint8_t *v, size_t len)
{
	size_t i = 0, digits = 0, alpha_words = 0;

	if (len < 6 || len > 200)
		return PII_INVALID;
	while (i < len && is_digit(v[i]) && digits < 7) {
		i++;
		digits++;
	}
	if (digits == 0 || digits > 6 || i >= len || v[i] != ' ')
		return PII_INVALID;
	for (; i < len; i++) {
		if (v[i] == ' ' && i + 1 < len && is_alpha(v[i + 1]))
			alpha_words++;
		if (v[i] < 0x20)
			return PII_INVALID;
	}
	return alpha_words >= 1 ? PII_SHAPE : PII_INVALID;
}

/*
 * Is the candidate the tail of a spaced IBAN ("DE79 0500 0085 0952 1900 15")? Groups of
 * four letters or digits, one space apart, back to one that starts two letters and two
 * digits. A tail whose IBAN failed its checksum is still no phone or card number.
 */
static bool iban_tail(const struct pii_cand_view *c)
{
	const uint8_t *t = c->text;
	size_t i = c->start;

	for (int groups = 0; groups < 8 && i >= 5 && t[i - 1] == ' '; groups++) {
		const uint8_t *g = t + i - 5;

		for (int k = 0; k < 4; k++) {
			if (!is_digit(g[k]) && !is_upper(g[k]))
				return false;
		}
		if (is_upper(g[0]) && is_upper(g[1]) && is_digit(g[2]) && is_digit(g[3]) &&
		    (i == 5 || !is_alnum(t[i - 6])))
			return true;
		i -= 5;
	}
	return false;
}

static bool street_word(const uint8_t *v, size_t n)
{
	/* whole words, compared without case (accented letters as their UTF-8 bytes) */
	static const char *const words[] = {
		"rue",	   "avenue",	"av",	    "boulevard", "bd",	     "chemin",	 "allée",
		"allee",   "impasse",	"place",    "quai",	 "route",    "cours",	 "square",
		"passage", "via",	"viale",    "vicolo",	 "piazza",   "piazzale", "corso",
		"strada",  "largo",	"contrada", "rotonda",	 "borgo",    "calle",	 "avenida",
		"pasaje",  "ronda",	"camino",   "carrer",	 "paseo",    "plaza",	 "glorieta",
		"rambla",  "carretera", "rua",	    "travessa",	 "praça",    "estrada",	 "alameda",
		"street",  "st",	"road",	    "rd",	 "ave",	     "lane",	 "ln",
		"drive",   "court",	"way",	    "terrace",	 "crescent", "close",	 "blvd",
		"straße",  "strasse",	"str",	    "weg",	 "platz",    "gasse",	 "allee",
		"straat",  "laan",	"plein",    "gracht",	 "kade",     "singel",	 "dreef",
	};
	/* the ends of German and Dutch compounds */
	static const char *const tails[] = {"straße", "strasse", "str.", "weg",	  "platz",  "gasse",
					    "allee",  "straat",	 "laan", "plein", "gracht", "ring"};
	size_t bare = n && v[n - 1] == '.' ? n - 1 : n; /* "Str.", "Av." */

	for (size_t k = 0; bare && k < ARRAY_SIZE(words); k++) {
		if (strlen(words[k]) == bare && !strncasecmp((const char *)v, words[k], bare))
			return true;
	}
	for (size_t k = 0; k < ARRAY_SIZE(tails); k++) {
		size_t t = strlen(tails[k]);

		if (n > t + 2 && !strncasecmp((const char *)v + n - t, tails[k], t))
			return true;
	}
	return false;
}

/*
 * Does the value name a street by its kind: its first word, or the last before a comma,
 * is one such as "rue", "Via", "Calle" or "Road", or a compound that ends in one
 * ("Bahnhofstraße", "Maxlaan", "Filiz-Huhn-Platz")? A key that says address and a street
 * without its number ("avenue Chevallier", "Main Street, Springfield") is an address; "N/A",
 * "Berlin" or "same place as billing" under that key are not.
 */
static bool street_named(const uint8_t *v, size_t len)
{
	size_t first = 0, last;

	while (first < len && v[first] != ' ' && v[first] != ',')
		first++;
	if (street_word(v, first))
		return true;
	last = first;
	while (last < len && v[last] != ',')
		last++;
	for (size_t w = last; w > first; w--) {
		if (v[w - 1] == ' ')
			return street_word(v + w, last - w);
	}
	return false;
}

/*
 * An address in any country's format, for a value a key already calls an address
 * ("Gutestr. 219, 45245 Regensburg", "45, avenue de Bernier", "Flat 7\nBibi island"):
 * words and a house number or postcode (or a street named by its kind), on up to five
 * lines, and nothing that makes it something else (an email, a URL, a date, a bare
 * number).
 */
static enum pii_verdict address_keyed_check(const uint8_t *v, size_t len)
{
	size_t digits = 0, letters = 0, word_letters = 0, long_words = 0, lines = 1;
	bool number = false;

	if (len < 4 || len > 200 || date_parse(v, len) == len)
		return PII_INVALID;
	for (size_t i = 0; i <= len; i++) {
		uint8_t ch = i < len ? v[i] : ' ';

		if (ch == '@' || (ch == ':' && i + 2 < len && v[i + 1] == '/'))
			return PII_INVALID;
		if (is_alpha(ch) || ch >= 0x80) {
			letters++;
			word_letters++;
			continue;
		}
		long_words += word_letters >= 3;
		word_letters = 0;
		if (is_digit(ch)) {
			digits++;
			number = true;
		} else if (ch == '\n' || (ch == '\\' && i + 1 < len && v[i + 1] == 'n')) {
			lines++; /* a newline, or one escaped in JSON */
		} else if (ch < 0x20) {
			return PII_INVALID;
		}
	}
	if (lines > 5 || long_words == 0 || digits > letters)
		return PII_INVALID;
	return number || street_named(v, len) ? PII_SHAPE : PII_INVALID;
}

/* A lower-case word that names, joins or places inside a street or town name. */
static bool address_particle(const uint8_t *w, size_t n)
{
	static const char *const particles[] = {
		"de",  "del", "della", "delle", "dei", "di",  "da",  "do",   "dos", "das", "du",
		"des", "la",  "le",    "les",	"los", "las", "van", "von",  "der", "den", "het",
		"y",   "e",   "op",    "am",	"an",  "im",  "sur", "sous", "en",
	};

	for (size_t k = 0; k < ARRAY_SIZE(particles); k++) {
		if (strlen(particles[k]) == n && !memcmp(w, particles[k], n))
			return true;
	}
	return false;
}

/* A house number: 1-5 digits and perhaps a letter or a "/3". */
static bool house_number(const uint8_t *w, size_t n)
{
	size_t d = 0;

	while (d < n && d < 6 && is_digit(w[d]))
		d++;
	return d >= 1 && d <= 5 &&
	       (d == n || (d + 1 == n && is_alpha(w[d])) || (w[d] == '/' && d + 1 < n));
}

/*
 * How much of p[0, n) an address's last line part holds before prose goes on: its words
 * while each is a name (capitalised, or a byte of UTF-8), a number or postcode, a
 * particle, a street's kind or a "(TN)". (A capitalised word just before the prose may
 * open the sentence, "... 8 Left several church how.": scan.c tells by the common-word
 * list.)
 */
static size_t address_words(const uint8_t *p, size_t n)
{
	size_t i = 0, kept = 0;

	while (i < n) {
		size_t w = i, e;
		bool digit = false, name;

		while (w < n && p[w] != ' ') {
			digit |= is_digit(p[w]);
			w++;
		}
		e = w;
		while (e > i && (p[e - 1] == '.' || p[e - 1] == ','))
			e--;
		name = e > i && (is_upper(p[i]) || p[i] >= 0x80);
		if (!(digit || name || address_particle(p + i, e - i) ||
		      street_word(p + i, w - i) ||
		      (e - i >= 3 && p[i] == '(' && is_upper(p[i + 1]) && p[e - 1] == ')')))
			break;
		kept = e;
		i = w + 1;
	}
	return kept;
}

/* Where the part of an address line from i ends: at its next ", ", or at len. */
static size_t part_end_from(const uint8_t *v, size_t len, size_t i)
{
	while (i < len && !(v[i] == ',' && i + 1 < len && v[i + 1] == ' '))
		i++;
	return i;
}

/*
 * The address that opens the rest of a line after an address prompt ("Address: Viale Elio
 * 11, San Cassiopea veneto, 20246 Trieste (TN) Weight civil dog."), for a line that does
 * not end with it: its length, or 0 when the line does not open with a street. The first
 * part (up to a comma) is a street, named by its kind or opening with a house number
 * ("5, boulevard Martine Delaunay" as one part); up to three more parts of up to four words
 * each, a town or district; the last part ends where prose starts.
 */
static size_t address_in_line(const uint8_t *v, size_t len)
{
	size_t part_end = part_end_from(v, len, 0), end, street = 0;
	int parts = 0;

	/* "5, boulevard ...": the number is the street's */
	if (part_end < len && house_number(v, part_end)) {
		street = part_end + 2;
		part_end = part_end_from(v, len, street);
	} else if (part_end > 0) {
		size_t w = 0;

		while (w < part_end && v[w] != ' ')
			w++;
		if (house_number(v, w))
			street = w < part_end ? w + 1 : w;
	}
	if (street >= part_end || (!street_named(v + street, part_end - street) &&
				   pii_address_check(v, part_end) == PII_INVALID))
		return 0;
	if (part_end == len) {
		size_t i = street, n;

		/* "220 Walker branch": after a house number, the name and its kind whatever
		 * their case; then what else is the address's */
		if (street > 0) {
			while (i < len && (is_upper(v[i]) || v[i] >= 0x80)) {
				while (i < len && v[i] != ' ')
					i++;
				i += i < len;
			}
			while (i < len && v[i] != ' ')
				i++;
			if (i == len)
				return len;
			i++;
		}
		n = address_words(v + i, len - i);
		if (n)
			return i + n;
		return i > street ? i - 1 : 0; /* less the space before the prose */
	}
	end = part_end;
	while (end < len && parts < 4) {
		size_t ps = end + 2, pe = part_end_from(v, len, ps), words = 1;

		for (size_t k = ps; k < pe; k++)
			words += v[k] == ' ';
		if (ps >= len || !(is_upper(v[ps]) || is_digit(v[ps]) || v[ps] >= 0x80))
			break;
		if (pe == len) { /* the last part: to where prose starts */
			size_t n = address_words(v + ps, len - ps);

			if (n)
				end = ps + n;
			break;
		}
		if (words > 4)
			break;
		end = pe;
		parts++;
	}
	return end;
}

/* Widens a token candidate to the run of characters its kind is made of (bounded). */
static void extend_run(struct pii_cand_view *c, bool (*in)(uint8_t), size_t max)
{
	while (c->end < c->len && c->end - c->start < max && in(c->text[c->end]))
		c->end++;
}

static bool iban_char(uint8_t c)
{
	return is_upper(c) || is_digit(c);
}

/* A byte of a word as a regex's \b sees it. */
static bool is_word_byte(uint8_t c)
{
	return is_alnum(c) || c == '_';
}

/* Around "(415) 555-2671": "+1 " or "1-" before, " x12", "ext. 12", "#12" after. */
static void nanp_widen(struct pii_cand_view *c)
{
	const uint8_t *t = c->text;
	size_t s = c->start, e = c->end, d;

	if (s > 0 && (t[s - 1] == ' ' || t[s - 1] == '.' || t[s - 1] == '-'))
		s--;
	if (s > 0 && t[s - 1] == '1' && (s < 2 || !is_word_byte(t[s - 2]) || t[s - 2] == '+')) {
		s--;
		if (s > 0 && t[s - 1] == '+')
			s--;
		c->start = s;
	}
	if (e < c->len && t[e] == ' ')
		e++;
	if (e < c->len && (t[e] == 'x' || t[e] == '#'))
		e++;
	else if (c->len - e >= 3 && !memcmp(t + e, "ext", 3))
		e += 3 + (c->len - e > 3 && t[e + 3] == '.');
	else
		return;
	if (e < c->len && t[e] == ' ')
		e++;
	for (d = e; d < c->len && d - e < 5 && is_digit(t[d]);)
		d++;
	if (d > e && !(d < c->len && is_word_byte(t[d])))
		c->end = d;
}

static bool jwt_char(uint8_t c)
{
	return is_b64url(c) || c == '.';
}

static bool domain_char(uint8_t c)
{
	return is_alnum(c) || c == '.' || c == '-';
}

static bool slack_char(uint8_t c)
{
	return is_alnum(c) || c == '-' || c == '/';
}

static bool ip_char(uint8_t c)
{
	return is_hex(c) || c == ':' || c == '.';
}

enum pii_verdict pii_validate(enum pii_validator v, struct pii_psl_memo *psl,
			      struct pii_cand_view *c)
{
	const uint8_t *t = c->text;
	enum pii_verdict r;
	size_t n;

	switch (v) {
	case PII_V_NONE:
		return PII_SHAPE;
	case PII_V_EMAIL:
		/* the text pattern matches from the '@': the local part is read back from it, so
		 * Hyperscan need not track where a 64-byte run of word characters began */
		if (c->start < c->len && (t[c->start] == '@' || t[c->start] == '%')) {
			size_t lim = c->start > 64 ? c->start - 64 : 0;

			/* the characters addresses use in practice, not every one RFC 5322 allows:
			 * "user=john@x" in a query string is john's address */
			while (c->start > lim &&
			       (is_alnum(t[c->start - 1]) || t[c->start - 1] >= 0x80 ||
				strchr("._%+-", t[c->start - 1])))
				c->start--;
			/* a run longer than a local part can be (64) is something else's */
			if (c->start == lim && lim > 0 &&
			    (is_alnum(t[lim - 1]) || strchr("._%+-", t[lim - 1])))
				return PII_INVALID;
			while (c->start < c->end && t[c->start] == '.')
				c->start++;
			/* https://user:token@host: a URL's credentials, not an address */
			if (c->start >= 3 && !memcmp(t + c->start - 3, "://", 3))
				return PII_INVALID;
		}
		trim(c);
		extend_run(c, domain_char, 64 + 3 + 253);
		while (c->end > c->start && (t[c->end - 1] == '.' || t[c->end - 1] == '-'))
			c->end--;
		return email_check(NULL, psl, t + c->start, c->end - c->start);
	case PII_V_CARD:
		if (iban_tail(c))
			return PII_INVALID;
		return pii_card_check(t + c->start, c->end - c->start);
	case PII_V_IBAN:
		trim(c);
		/* written solid, the pattern matches its start: the IBAN runs to the end of its
		 * word (at most 34), which must end there */
		if (!memchr(t + c->start, ' ', c->end - c->start)) {
			extend_run(c, iban_char, 35);
			if (c->end - c->start > 34 || (c->end < c->len && is_word_byte(t[c->end])))
				return PII_INVALID;
		}
		/* a spaced IBAN followed by a short upper-case word ("... 3000 EUR"): the pattern
		 * took the word as a last group; try without it */
		for (int tries = 0; tries < 2; tries++) {
			const uint8_t *sp;

			r = pii_iban_check(t + c->start, c->end - c->start);
			sp = memrchr(t + c->start, ' ', c->end - c->start);
			if (r != PII_INVALID || !sp)
				return r;
			c->end = (size_t)(sp - t);
		}
		return pii_iban_check(t + c->start, c->end - c->start);
	case PII_V_US_SSN:
		trim(c);
		return pii_ssn_check(t + c->start, c->end - c->start);
	case PII_V_PHONE:
		trim(c);
		if (iban_tail(c))
			return PII_INVALID;
		/* "(415) 555-2671" matched from its '(' to its last digit in text: a country code
		 * 1 before it ("+1 (", "1-(") and an extension after belong to the number, and
		 * it must end its word */
		if (t[c->start] == '(' && c->end - c->start <= 14) {
			nanp_widen(c);
			if (c->end < c->len && is_word_byte(t[c->end]))
				return PII_INVALID;
		}
		return pii_phone_check(t + c->start, c->end - c->start);
	case PII_V_IP:
		trim(c);
		/* the whole dotted or coloned run: 1.2.3.4.5 and 10.0.0.1:80:x are not this */
		while (c->start > 0 && c->end - c->start < 64 && ip_char(t[c->start - 1]))
			c->start--;
		extend_run(c, ip_char, 64);
		while (c->end > c->start && t[c->end - 1] == '.')
			c->end--;
		/* "Chrome/120.0.6099.71", "nginx/1.25.3.1": a product's version, not a host */
		if (c->start >= 2 && t[c->start - 1] == '/' && is_alpha(t[c->start - 2]))
			return PII_INVALID;
		if (memchr(t + c->start, ':', c->end - c->start) == NULL) {
			for (size_t i = c->start; i < c->end; i++) {
				if (!is_digit(t[i]) && t[i] != '.')
					return PII_INVALID;
			}
			/* a dotted quad ends its word: "1.2.3.4x" is something else */
			if (c->end < c->len && is_word_byte(t[c->end]))
				return PII_INVALID;
		}
		return pii_ip_check(t + c->start, c->end - c->start);
	case PII_V_JWT:
		trim(c);
		extend_run(c, jwt_char, TOKEN_MAX);
		while (c->end > c->start && t[c->end - 1] == '.' &&
		       memchr(t + c->start, '.', c->end - c->start - 1) &&
		       pii_jwt_check(t + c->start, c->end - c->start) == PII_INVALID)
			c->end--;
		return pii_jwt_check(t + c->start, c->end - c->start);
	case PII_V_AWS_ACCESS_KEY:
		trim(c);
		return pii_aws_access_key_check(t + c->start, c->end - c->start);
	case PII_V_AWS_SECRET_KEY: {
		/* in a query string '/' and '+' arrive as %2F and %2B: check the decoded key */
		uint8_t dec[41];
		size_t dn = 0;

		trim(c);
		for (size_t i = c->start; i < c->end; i++) {
			uint8_t ch = t[i];

			if (ch == '%' && i + 2 < c->end && t[i + 1] == '2' &&
			    ((t[i + 2] | 0x20) == 'b' || (t[i + 2] | 0x20) == 'f')) {
				ch = (t[i + 2] | 0x20) == 'b' ? '+' : '/';
				i += 2;
			} else if (!is_alnum(ch) && ch != '/' && ch != '+') {
				c->end = i;
				break;
			}
			if (dn == sizeof(dec))
				return PII_INVALID;
			dec[dn++] = ch;
		}
		return pii_aws_secret_key_check(dec, dn);
	}
	case PII_V_GITHUB_TOKEN:
		return pii_github_token_check(t + c->start, c->end - c->start);
	case PII_V_SLACK_TOKEN:
		extend_run(c, slack_char, 255);
		return pii_slack_token_check(t + c->start, c->end - c->start);
	case PII_V_PRIVATE_KEY: {
		/* the match is the BEGIN line; the block runs to its END line */
		size_t room = c->len - c->start > TOKEN_MAX ? TOKEN_MAX : c->len - c->start;
		const uint8_t *e = memmem(t + c->start + 11, room - 11, "-----END ", 9);

		if (e) {
			const uint8_t *close =
				memmem(e + 9, (size_t)(t + c->start + room - e - 9), "-----", 5);
			c->end = close ? (size_t)(close + 5 - t) : c->start + room;
		} else {
			c->end = c->start + room;
		}
		return pii_private_key_check(t + c->start, c->end - c->start);
	}
	case PII_V_PASSWORD:
		trim(c);
		if (!c->quoted) {
			for (size_t i = c->start; i < c->end; i++) {
				if (is_space(t[i]) || t[i] == ',' || t[i] == ';' || t[i] == '&') {
					c->end = i;
					break;
				}
			}
		}
		return pii_password_check(t + c->start, c->end - c->start);
	case PII_V_DATE_OF_BIRTH:
		trim(c);
		/* the value may have been cut at the comma of "March 2, 1985": read on */
		n = date_parse(t + c->start, c->len - c->start > 40 ? 40 : c->len - c->start);
		if (!n)
			return PII_INVALID;
		/* a time of day after a birth date ("1985-03-02T00:00:00Z") belongs to it */
		c->end = c->start + n;
		if (c->end < c->len && t[c->end] == 'T') {
			size_t e = c->end + 1;

			while (e < c->len && e - c->end < 30 &&
			       (is_digit(t[e]) || t[e] == ':' || t[e] == '.' || t[e] == 'Z'))
				e++;
			c->end = e;
		}
		return PII_SHAPE;
	case PII_V_PERSON_NAME: {
		static const char *const titles[] = {"Mr. ",   "Mrs. ", "Ms. ", "Dr. ",
						     "Prof. ", "Mr ",	"Mrs ", "Ms ",
						     "Miss ",  "Dr ",	"Prof "};
		size_t header = mail_header_name(t, c->len, c->start);
		int words;

		if (header) { /* "To: Jane Doe <jane@x>": the display name, if a '<' follows */
			size_t e;

			c->start = header;
			n = name_words(t + c->start, c->len - c->start, &words);
			e = c->start + n;
			if (e < c->len && t[e] == '"')
				e++;
			while (e < c->len && t[e] == ' ')
				e++;
			if (!n || e >= c->len || t[e] != '<')
				return PII_INVALID;
			c->end = c->start + n;
			return pii_person_name_check(t + c->start, n);
		}
		trim(c);
		/* the title is not the name: "Mrs. Jane Doe" reports "Jane Doe" */
		for (size_t k = 0; k < ARRAY_SIZE(titles) && c->start < c->end &&
				   (t[c->start] == 'M' || t[c->start] == 'D' || t[c->start] == 'P');
		     k++) {
			size_t tl = strlen(titles[k]);

			if (c->end - c->start > tl && !memcmp(t + c->start, titles[k], tl)) {
				c->start += tl;
				break;
			}
		}
		n = name_words(t + c->start, c->end - c->start, &words);
		if (!n)
			return PII_INVALID;
		c->end = c->start + n;
		while (c->end > c->start && t[c->end - 1] == '.' && words > 1 &&
		       !(c->end - c->start >= 3 && t[c->end - 3] == ' '))
			c->end--; /* "... Smith." ends a sentence; "J." is an initial */
		return pii_person_name_check(t + c->start, c->end - c->start);
	}
	case PII_V_ADDRESS:
		trim(c);
		while (c->end > c->start && (t[c->end - 1] == ',' || t[c->end - 1] == '.'))
			c->end--;
		if (c->end < c->len && t[c->end] == '.' &&
		    (c->end + 1 == c->len || !is_alpha(t[c->end + 1])))
			c->end++; /* "Main St." keeps its abbreviation point */
		/* the rest of a line after an address prompt, not ending with the address, or
		 * from a street's start */
		if (c->line_rest && !c->keyed) {
			n = address_in_line(t + c->start, c->end - c->start);
			if (!n)
				return PII_INVALID;
			c->end = c->start + n;
			return PII_SHAPE;
		}
		r = pii_address_check(t + c->start, c->end - c->start);
		if (r == PII_INVALID && c->keyed)
			return address_keyed_check(t + c->start, c->end - c->start);
		if (r == PII_INVALID)
			return r;
		n = address_unit(t + c->end, c->len - c->end);
		c->end += n;
		c->end += address_city(t + c->end, c->len - c->end);
		return r;
	case PII_V_COUNT:
		break;
	}
	return PII_INVALID;
}
