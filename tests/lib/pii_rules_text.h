/*
 * Loads the PII engine for a test: from the shipped rule file, or from rule text written by
 * the test (a temporary file, removed once read) for tests of one rule or one error.
 */
#ifndef WIREWATCH_PII_RULES_TEXT_H
#define WIREWATCH_PII_RULES_TEXT_H

#include <stddef.h>

struct pii_engine;

/* pii_engine_load() of a file holding yaml; its error names the temporary file. Returns
 * what pii_engine_load() does, or -errno when the file cannot be written. */
int pii_engine_load_text(struct pii_engine **e, const char *yaml, char *err, size_t err_len);

/* pii_engine_load() of the shipped rules (PII_RULES_DEFAULT, run from the repository
 * root); its error, if any, to stderr as a TAP comment. 0 or -1: a cmocka group set-up's
 * answer. */
int pii_engine_load_shipped(struct pii_engine **e);

#endif
