/*
 * Validators: the checks in C that turn a pattern match into a finding. Each answers for
 * one candidate value whether it can be the type, and how strongly (a checksum is stronger
 * than a shape), and may narrow or widen the span (an address followed by its city, a JWT
 * whose pattern matched only its first bytes).
 *
 * They read only the bytes they are given plus, for extensions, the rest of the text up to
 * `len`; they never allocate (the email check's public suffix list is loaded once by the
 * engine and passed in).
 */
#ifndef WIREWATCH_PII_VALIDATE_H
#define WIREWATCH_PII_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct psl_ctx_st;

/* What a validator says of a candidate. */
enum pii_verdict {
	PII_INVALID = 0, /* cannot be the type */
	PII_SHAPE = 1,	 /* the right shape, nothing more to check or nothing checked */
	PII_CHECKED = 2, /* passed a checksum or a registry (Luhn, mod 97, CRC32, issuer) */
};

/* One candidate: the span is [start, end) of text[0..len); validators may move it. */
struct pii_cand_view {
	const uint8_t *text;
	size_t len;
	size_t start, end;
	bool quoted; /* the value was between quotes: spaces are part of it */
	bool keyed;  /* the whole value under a key that names the type (no pattern) */
	/* the rest of a line after a `key:` that names the type, or from where a pattern
	 * found a street's start: the address is read out of it */
	bool line_rest;
};

enum pii_validator {
	PII_V_NONE,
	PII_V_EMAIL,
	PII_V_CARD,
	PII_V_IBAN,
	PII_V_US_SSN,
	PII_V_PHONE,
	PII_V_IP,
	PII_V_JWT,
	PII_V_AWS_ACCESS_KEY,
	PII_V_AWS_SECRET_KEY,
	PII_V_GITHUB_TOKEN,
	PII_V_SLACK_TOKEN,
	PII_V_PRIVATE_KEY,
	PII_V_PASSWORD,
	PII_V_DATE_OF_BIRTH,
	PII_V_PERSON_NAME,
	PII_V_ADDRESS,
	PII_V_COUNT,
};

const char *pii_validator_name(enum pii_validator v);
int pii_validator_parse(const char *s, size_t len);

/* Runs validator v on c (psl is needed by PII_V_EMAIL only; NULL skips that check). */
#define PII_PSL_MEMO_SLOTS 512 /* power of two */

/*
 * The public suffix list and a memory of what it said about domains: a lookup costs more
 * than the rest of an email's checks, and traffic repeats a few domains. One per worker
 * (in its scratch); psl NULL checks emails on shape alone.
 */
struct pii_psl_memo {
	const struct psl_ctx_st *psl;
	struct {
		uint64_t hash; /* of the lower-cased domain; 0: empty */
		bool registrable;
	} slot[PII_PSL_MEMO_SLOTS];
};

enum pii_verdict pii_validate(enum pii_validator v, struct pii_psl_memo *psl,
			      struct pii_cand_view *c);

/* The checks themselves, on a value alone; exposed for the unit tests. */
bool pii_luhn_ok(const uint8_t *digits, size_t n);
enum pii_verdict pii_card_check(const uint8_t *v, size_t len);
enum pii_verdict pii_iban_check(const uint8_t *v, size_t len);
enum pii_verdict pii_ssn_check(const uint8_t *v, size_t len);
enum pii_verdict pii_phone_check(const uint8_t *v, size_t len);
enum pii_verdict pii_ip_check(const uint8_t *v, size_t len);
enum pii_verdict pii_email_check(const struct psl_ctx_st *psl, const uint8_t *v, size_t len);
enum pii_verdict pii_jwt_check(const uint8_t *v, size_t len);
enum pii_verdict pii_aws_access_key_check(const uint8_t *v, size_t len);
enum pii_verdict pii_aws_secret_key_check(const uint8_t *v, size_t len);
enum pii_verdict pii_github_token_check(const uint8_t *v, size_t len);
enum pii_verdict pii_slack_token_check(const uint8_t *v, size_t len);
enum pii_verdict pii_private_key_check(const uint8_t *v, size_t len);
enum pii_verdict pii_password_check(const uint8_t *v, size_t len);
enum pii_verdict pii_date_of_birth_check(const uint8_t *v, size_t len);
enum pii_verdict pii_person_name_check(const uint8_t *v, size_t len);
enum pii_verdict pii_address_check(const uint8_t *v, size_t len);

/* CRC-32 (IEEE 802.3, as zlib), the checksum inside GitHub tokens. */
uint32_t pii_crc32(const uint8_t *p, size_t n);

#endif
