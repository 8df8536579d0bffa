/*
 * PII validators against published test values: the card numbers the payment processors
 * publish for testing, the IBAN registry's examples, the SSA's never-issued SSN rules, the
 * AWS documentation's example keys, RFC 7519's and jwt.io's example tokens, and the CRC-32
 * check value. Every table row says what the validator must answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>
#include <libpsl.h>

#include "pii/validate.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct vec {
	const char *value;
	enum pii_verdict want;
};

typedef enum pii_verdict (*check_fn)(const uint8_t *v, size_t len);

static void run_table(check_fn fn, const struct vec *t, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		enum pii_verdict got = fn((const uint8_t *)t[i].value, strlen(t[i].value));

		if (got != t[i].want)
			fail_msg("%s('%s'): got %d, want %d", what, t[i].value, got, t[i].want);
	}
}

#define RUN(fn, table) run_table(fn, table, ARRAY_SIZE(table), #fn)

static void test_card(void **state)
{
	static const struct vec t[] = {
		/* published test numbers (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay) */
		{"4111111111111111", PII_CHECKED},
		{"4012888888881881", PII_CHECKED},
		{"4222222222222", PII_CHECKED},
		{"5555555555554444", PII_CHECKED},
		{"5105105105105100", PII_CHECKED},
		{"2223003122003222", PII_CHECKED},
		{"378282246310005", PII_CHECKED},
		{"371449635398431", PII_CHECKED},
		{"6011111111111117", PII_CHECKED},
		{"6011000990139424", PII_CHECKED},
		{"30569309025904", PII_CHECKED},
		{"38520000023237", PII_CHECKED},
		{"3530111333300000", PII_CHECKED},
		{"3566002020360505", PII_CHECKED},
		{"6200000000000005", PII_CHECKED},
		{"213100000000001", PII_CHECKED}, /* JCB's legacy 15-digit ranges */
		{"180000000000002", PII_CHECKED},
		{"1800000000000000", PII_SHAPE}, /* 1800 issues 15 digits only: no known card */
		{"4111 1111 1111 1111", PII_CHECKED},
		{"4111-1111-1111-1111", PII_CHECKED},
		{"3782-822463-10005", PII_CHECKED},
		/* Luhn fails */
		{"4111111111111112", PII_INVALID},
		{"5555555555554440", PII_INVALID},
		/* Luhn passes, but no scheme issues the range or the length: a card's shape only,
		 * which the rules report only under a card key or word */
		{"1234567812345670", PII_SHAPE},
		{"9999999999999995", PII_SHAPE},
		{"378282246310005000", PII_INVALID}, /* Amex is 15 digits, and Luhn fails */
		{"5555555555554444000", PII_SHAPE},  /* Mastercard is 16 */
		{"3505366133682475", PII_SHAPE},     /* "35" outside JCB's 3528-3589 */
		{"0000000000000000", PII_INVALID},
		{"4444444444444448", PII_CHECKED},
		/* mixed separators are two numbers, not one card */
		{"4111 1111-1111 1111", PII_INVALID},
		{"4111  1111 1111 1111", PII_INVALID},
		{"41111111111", PII_INVALID},
	};

	(void)state;
	RUN(pii_card_check, t);
	assert_true(pii_luhn_ok((const uint8_t *)"79927398713", 11)); /* the textbook example */
	assert_false(pii_luhn_ok((const uint8_t *)"79927398710", 11));
}

static void test_iban(void **state)
{
	static const struct vec t[] = {
		/* examples of the SWIFT IBAN registry */
		{"DE89370400440532013000", PII_CHECKED},
		{"GB29NWBK60161331926819", PII_CHECKED},
		{"GB29 NWBK 6016 1331 9268 19", PII_CHECKED},
		{"FR1420041010050500013M02606", PII_CHECKED},
		{"NL91ABNA0417164300", PII_CHECKED},
		{"BE68539007547034", PII_CHECKED},
		{"CH9300762011623852957", PII_CHECKED},
		{"ES9121000418450200051332", PII_CHECKED},
		{"IT60X0542811101000000123456", PII_CHECKED},
		{"NO9386011117947", PII_CHECKED},
		{"AT611904300234573201", PII_CHECKED},
		{"MT84MALT011000012345MTLCAST001S", PII_CHECKED},
		{"SA0380000000608010167519", PII_CHECKED},
		{"GR1601101250000000012300695", PII_CHECKED},
		/* wrong check digits, length or country */
		{"GB29NWBK60161331926818", PII_INVALID},
		{"DE88370400440532013000", PII_INVALID},
		{"DE8937040044053201300", PII_INVALID},
		{"XX89370400440532013000", PII_INVALID},
		{"de89370400440532013000", PII_INVALID},
		{"DE89", PII_INVALID},
	};

	(void)state;
	RUN(pii_iban_check, t);
}

static void test_ssn(void **state)
{
	static const struct vec t[] = {
		{"536-22-8726", PII_CHECKED},
		{"772-12-3456", PII_CHECKED}, /* issued since the 2011 randomisation */
		{"899-99-9999", PII_CHECKED},
		{"536228726", PII_CHECKED},
		{"536 22 8726", PII_CHECKED},
		{"000-12-3456", PII_INVALID}, /* area 000 */
		{"666-12-3456", PII_INVALID}, /* area 666 */
		{"900-12-3456", PII_INVALID}, /* areas 900-999 */
		{"999-12-3456", PII_INVALID},
		{"123-00-4567", PII_INVALID}, /* group 00 */
		{"123-45-0000", PII_INVALID}, /* serial 0000 */
		{"078-05-1120", PII_INVALID}, /* the Woolworth wallet card */
		{"219-09-9999", PII_INVALID}, /* SSA advertising */
		{"123-45-6789", PII_INVALID},
		{"536-22 8726", PII_INVALID},
		{"53-622-8726", PII_INVALID},
		{"5362287260", PII_INVALID},
	};

	(void)state;
	RUN(pii_ssn_check, t);
}

static void test_phone(void **state)
{
	static const struct vec t[] = {
		{"+1 415 555 2671", PII_CHECKED},
		{"(212) 555-0123", PII_CHECKED},
		{"212.555.0123", PII_CHECKED},
		{"1-212-555-0123", PII_CHECKED},
		{"+14155552671", PII_CHECKED},
		{"(415) 555-2671 x123", PII_CHECKED},
		{"%2B14155552671", PII_CHECKED},
		{"+44 20 7946 0958", PII_CHECKED}, /* Ofcom's numbers for drama */
		{"+44 (0)20 7946 0958", PII_CHECKED},
		{"020 7946 0958", PII_CHECKED},
		{"07700 900123", PII_CHECKED},
		{"+49 30 901820", PII_CHECKED},
		{"+33 1 42 68 53 00", PII_CHECKED},
		{"01 42 68 53 00", PII_CHECKED},
		{"+81 3-1234-5678", PII_CHECKED},
		{"0049 30 901820", PII_CHECKED},
		{"(123) 456-7890", PII_INVALID}, /* NANP area codes start 2-9 */
		{"(911) 555-1234", PII_INVALID}, /* N11 codes are services */
		{"(415) 155-2671", PII_INVALID}, /* exchange starts 2-9 */
		{"+1 415 555 267", PII_INVALID},
		{"+49 030 1234567", PII_INVALID}, /* trunk 0 after the country code */
		{"+44 20 7946 09581 1", PII_INVALID},
		{"555-1234", PII_INVALID},
		{"12:30:45", PII_INVALID},
	};

	(void)state;
	RUN(pii_phone_check, t);
}

static void test_ip(void **state)
{
	static const struct vec t[] = {
		{"192.168.0.1", PII_CHECKED},
		{"8.8.8.8", PII_CHECKED},
		{"2001:db8::1", PII_CHECKED},
		{"::1", PII_CHECKED},
		{"fe80::1ff:fe23:4567:890a", PII_CHECKED},
		{"::ffff:192.0.2.128", PII_CHECKED},
		{"256.1.1.1", PII_INVALID},
		{"01.2.3.4", PII_INVALID},
		{"1.2.3", PII_INVALID},
		{"1.2.3.4.5", PII_INVALID},
		{"0.0.0.0", PII_INVALID},
		{"255.255.255.255", PII_INVALID},
		{"2001:db8:::1", PII_INVALID},
		{"10:00:00", PII_INVALID},
		{"00:1a:2b:3c:4d:5e", PII_INVALID},
	};

	(void)state;
	RUN(pii_ip_check, t);
}

static psl_ctx_t *psl;

static enum pii_verdict email_check(const uint8_t *v, size_t len)
{
	return pii_email_check(psl, v, len);
}

static void test_email(void **state)
{
	static const struct vec t[] = {
		{"john.doe@example.com", PII_CHECKED},
		{"a@b.co.uk", PII_CHECKED},
		{"user+tag@mail.example.org", PII_CHECKED},
		{"o'brien@example.ie", PII_CHECKED},
		{"john%40example.com", PII_CHECKED},
		{"jos\xc3\xa9.garc\xc3\xad"
		 "a@example.es",
		 PII_CHECKED}, /* RFC 6531 */
		{"user@localhost", PII_INVALID},
		{"icon@2x.png", PII_INVALID},	 /* .png is no top-level domain */
		{"build@ci.local", PII_INVALID}, /* .local is not on the public suffix list */
		{"john@co.uk", PII_INVALID},	 /* a public suffix has no mailboxes */
		{".john@example.com", PII_INVALID},
		{"john.@example.com", PII_INVALID},
		{"john..doe@example.com", PII_INVALID},
		{"john@-example.com", PII_INVALID},
		{"john@example-.com", PII_INVALID},
		{"@example.com", PII_INVALID},
		{"john@example.c", PII_INVALID},
	};

	(void)state;
	psl = (psl_ctx_t *)psl_latest(NULL);
	assert_non_null(psl);
	RUN(email_check, t);
	/* without the list only the shape is known */
	assert_int_equal(pii_email_check(NULL, (const uint8_t *)"a@b.example", 11), PII_SHAPE);
	psl_free(psl);
}

static void test_jwt(void **state)
{
	static const struct vec t[] = {
		/* jwt.io's example token (HS256) */
		{"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4"
		 "gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
		 PII_CHECKED},
		/* RFC 7519 section 6.1: an unsecured JWT, empty signature */
		{"eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9le"
		 "GFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.",
		 PII_CHECKED},
		/* header {"typ":"JWT"}: no alg */
		{"eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2ln", PII_INVALID},
		/* two segments, or a payload that is not JSON */
		{"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0", PII_INVALID},
		{"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.aGVsbG8gd29ybGQ.c2ln", PII_INVALID},
		{"eyJpZCI6NDA2LCJvayI6dHJ1ZX0=", PII_INVALID},
	};

	(void)state;
	RUN(pii_jwt_check, t);
}

/* A GitHub token with the checksum computed by zlib, the reference CRC-32. */
static void github_token_make(char *out, char kind, const char *body30)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint32_t c = (uint32_t)crc32(0, (const Bytef *)body30, 30);

	sprintf(out, "gh%c_%s", kind, body30);
	for (int i = 5; i >= 0; i--) {
		out[34 + i] = b62[c % 62];
		c /= 62;
	}
	out[40] = '\0';
}

static void test_github_token(void **state)
{
	char tok[48];

	(void)state;
	assert_int_equal(pii_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
	for (const char *k = "pousr"; *k; k++) {
		github_token_make(tok, *k, "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1");
		assert_int_equal(pii_github_token_check((const uint8_t *)tok, 40), PII_CHECKED);
		tok[20] ^= 1; /* one character changed: the checksum no longer holds */
		assert_int_equal(pii_github_token_check((const uint8_t *)tok, 40), PII_INVALID);
	}
	github_token_make(tok, 'x', "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1");
	assert_int_equal(pii_github_token_check((const uint8_t *)tok, 40), PII_INVALID);
	assert_int_equal(pii_github_token_check(
				 (const uint8_t *)"ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 40),
			 PII_INVALID);
	static const char pat[] = "github_pat_11ABCDEFG0123456789abc_"
				  "0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHI";

	assert_int_equal(pii_github_token_check((const uint8_t *)pat, strlen(pat)), PII_SHAPE);
}

static void test_aws(void **state)
{
	static const struct vec keys[] = {
		{"AKIAIOSFODNN7EXAMPLE", PII_CHECKED}, /* the AWS documentation's example */
		{"ASIAIOSFODNN7EXAMPLE", PII_CHECKED}, {"AROAIOSFODNN7EXAMPLE", PII_CHECKED},
		{"AKIA1234567890123456", PII_INVALID}, /* 0, 1, 8, 9 are not base32 */
		{"AKIAIOSFODNN7EXAMPL", PII_INVALID},  {"XKIAIOSFODNN7EXAMPLE", PII_INVALID},
		{"akiaiosfodnn7example", PII_INVALID},
	};
	static const struct vec secrets[] = {
		{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", PII_SHAPE},
		{"da39a3ee5e6b4b0d3255bfef95601890afd80709", PII_INVALID}, /* a SHA-1 */
		{"abcdefghijabcdefghijabcdefghijabcdefghij", PII_INVALID},
		{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE", PII_INVALID},
	};

	(void)state;
	RUN(pii_aws_access_key_check, keys);
	RUN(pii_aws_secret_key_check, secrets);
}

static void test_slack(void **state)
{
	static const struct vec t[] = {
		{"xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy", PII_CHECKED},
		{"xoxp-4956863325-4960651567-5004185428-16c5ed1b9cd3b3eb0b7f4ac5a6f6ff33",
		 PII_CHECKED},
		{"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
		 PII_CHECKED},
		{"xoxb-not-a-token", PII_INVALID},
		{"xoxa-2-300570004161-3408596410353-1c6552931c8ca861a04907d4587f76c496a801f87439ef6"
		 "0b1ca02e752dd6a09",
		 PII_CHECKED},
		{"xapp-1-A0123456789-1234567890123-0123456789abcdef0123456789abcdef0123456789abcde"
		 "f0123456789abcdef",
		 PII_CHECKED},
		{"xoxe.xoxp-1-Mi0yLTEyMzQ1Njc4OTAtMTIzNDU2Nzg5MDEyLTEyMzQ1Njc4OTAxMjM0LTEyMzQ1Njc4O"
		 "TAxMjM0NTY3ODkwYWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY",
		 PII_CHECKED},
		{"xoxe.xoxp-1-short-token-body", PII_INVALID},
		{"xapp-not-a-token-at-all", PII_INVALID},
		{"xoxz-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy", PII_INVALID},
	};

	(void)state;
	RUN(pii_slack_token_check, t);
}

static void test_private_key(void **state)
{
	static const struct vec t[] = {
		{"-----BEGIN RSA PRIVATE KEY-----\n"
		 "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
		 "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n"
		 "-----END RSA PRIVATE KEY-----",
		 PII_CHECKED},
		{"-----BEGIN PRIVATE "
		 "KEY-----\\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4"
		 "WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\\n-----END PRIVATE "
		 "KEY-----",
		 PII_CHECKED},
		/* cut short by the capture: enough body to be a key */
		{"-----BEGIN PRIVATE "
		 "KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGe"
		 "KLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit",
		 PII_SHAPE},
		{"-----BEGIN PRIVATE KEY-----", PII_INVALID},
		{"-----BEGIN PUBLIC "
		 "KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKL"
		 "s1Pt8QuKUpRKfFLfRYC9AIKjbJTWit\n-----END PUBLIC KEY-----",
		 PII_INVALID},
	};

	(void)state;
	RUN(pii_private_key_check, t);
}

static void test_password(void **state)
{
	static const struct vec t[] = {
		{"hunter2", PII_SHAPE},
		{"Tr0ub4dor&3", PII_SHAPE},
		{"correct horse battery staple", PII_SHAPE},
		{"", PII_INVALID},
		{"********", PII_INVALID},
		{"[REDACTED]", PII_INVALID},
		{"null", PII_INVALID},
		{"?", PII_INVALID},
		{"$1", PII_INVALID},
		{"${DB_PASSWORD}", PII_INVALID},
		{"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", PII_INVALID},
		{"5f4dcc3b5aa765d61d8327deb882cf99", PII_INVALID}, /* md5 */
		{"pbkdf2_sha256$600000$abc$def", PII_INVALID},
	};

	(void)state;
	RUN(pii_password_check, t);
}

static void test_date_of_birth(void **state)
{
	static const struct vec t[] = {
		{"1985-03-02", PII_SHAPE},
		{"1985/03/02", PII_SHAPE},
		{"03/02/1985", PII_SHAPE},
		{"02.03.1985", PII_SHAPE},
		{"March 2, 1985", PII_SHAPE},
		{"2 March 1985", PII_SHAPE},
		{"Feb 29, 2000", PII_SHAPE},
		{"1985-13-02", PII_INVALID},
		{"1985-02-30", PII_INVALID},
		{"Feb 29, 1900", PII_INVALID},
		{"2999-01-01", PII_INVALID},
		{"1800-01-01", PII_INVALID},
		{"13/13/1985", PII_INVALID},
		{"1985-03-02x", PII_INVALID},
		/* month names in German, French, Spanish, Italian and Dutch, whole or short */
		{"6. September 1994", PII_SHAPE},
		{"11 juin 1996", PII_SHAPE},
		{"6 d\xc3\xa9"
		 "cembre 1995",
		 PII_SHAPE},
		{"3 M\xc3\xa4rz 1980", PII_SHAPE},
		{"10 de mayo de 1990", PII_SHAPE},
		{"21 Feb. 1976", PII_SHAPE},
		{"4 maggio 1961", PII_SHAPE},
		{"9 mei 1970", PII_SHAPE},
		{"Sept. 3, 1966", PII_SHAPE},
		{"2 Ju 1985", PII_INVALID},
		{"2 Mayor 1985", PII_INVALID},
		{"31 juin 1996", PII_INVALID},
	};

	(void)state;
	RUN(pii_date_of_birth_check, t);
}

static void test_person_name(void **state)
{
	static const struct vec t[] = {
		{"John Smith", PII_SHAPE},
		{"Jane", PII_SHAPE},
		{"Mary-Kate O'Neil", PII_SHAPE},
		{"Jos\xc3\xa9 \xc3\x81lvarez", PII_SHAPE},
		{"John F. Kennedy", PII_SHAPE},
		{"john smith", PII_INVALID},
		{"Null", PII_INVALID},
		{"J", PII_INVALID},
		{"John 3", PII_INVALID},
		{"user@example.com", PII_INVALID},
		{"Jason van de Veen", PII_SHAPE},
		{"Claude de la Courtois", PII_SHAPE},
		{"Mark%20Meyer", PII_SHAPE},
		{"Joel+Palmer", PII_SHAPE},
		{"Jan van", PII_INVALID},  /* a particle does not end a name */
		{"van Dijk", PII_INVALID}, /* nor start one (alone, lower case) */
	};

	(void)state;
	RUN(pii_person_name_check, t);
}

static void test_address(void **state)
{
	static const struct vec t[] = {
		{"7462 Jeffery Valley", PII_SHAPE},
		{"123 Main St", PII_SHAPE},
		{"596 N Pearl Street Suite 230", PII_SHAPE},
		{"Main Street", PII_INVALID},
		{"12345", PII_INVALID},
		{"12 34", PII_INVALID},
	};

	(void)state;
	RUN(pii_address_check, t);
}

static void test_validate_extents(void **state)
{
	/* validators move spans: a JWT matched by its first bytes runs to its end, an address
	 * takes its unit and city, a name drops the title, a birth date stops at the year */
	static const struct {
		enum pii_validator v;
		const char *text;
		size_t start, end;
		const char *want;
	} t[] = {
		{PII_V_JWT,
		 "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl rest", 7,
		 20, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"},
		{PII_V_ADDRESS, "at 12 Main St Apt. 4, Springfield, IL 62704 today", 3, 13,
		 "12 Main St Apt. 4, Springfield, IL 62704"},
		{PII_V_PERSON_NAME, "Dear Mrs. Jane Doe, welcome", 5, 27, "Jane Doe"},
		{PII_V_DATE_OF_BIRTH, "born March 2, 1985 in Ohio", 5, 12, "March 2, 1985"},
		{PII_V_PASSWORD, "password=hunter2 user=x", 9, 23, "hunter2"},
		{PII_V_PHONE, "iban=DE79 0500 0085 0952 1900 15", 20, 32, NULL},
		{PII_V_CARD, "AT57 7208 6113 9269 0545", 10, 24, NULL},
		{PII_V_EMAIL,
		 "to jos\xc3\xa9"
		 "@example.es now",
		 8, 10,
		 "jos\xc3\xa9"
		 "@example.es"},
		{PII_V_EMAIL, "https://token123@github.com/x", 16, 18, NULL}, /* URL credentials */
		{PII_V_IP, "from 10.0.0.1.5 ok", 5, 13, NULL},
		{PII_V_IP, "Chrome/120.0.6099.71 Safari", 7, 20, NULL},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct pii_cand_view c = {.text = (const uint8_t *)t[i].text,
					  .len = strlen(t[i].text),
					  .start = t[i].start,
					  .end = t[i].end};
		enum pii_verdict r = pii_validate(t[i].v, NULL, &c);

		if (!t[i].want) {
			if (r != PII_INVALID)
				fail_msg("%s: '%s' should be rejected", pii_validator_name(t[i].v),
					 t[i].text);
			continue;
		}
		if (r == PII_INVALID || c.end - c.start != strlen(t[i].want) ||
		    memcmp(t[i].text + c.start, t[i].want, c.end - c.start))
			fail_msg("%s: got '%.*s', want '%s'", pii_validator_name(t[i].v),
				 (int)(c.end - c.start), t[i].text + c.start, t[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_card),
		cmocka_unit_test(test_iban),
		cmocka_unit_test(test_ssn),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_jwt),
		cmocka_unit_test(test_github_token),
		cmocka_unit_test(test_aws),
		cmocka_unit_test(test_slack),
		cmocka_unit_test(test_private_key),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_date_of_birth),
		cmocka_unit_test(test_person_name),
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_validate_extents),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
