/*
 * Loads the PII engine from rule text written by a test (a temporary file, removed once
 * read): for tests of one rule or one error, apart from config/pii.yaml.
 */
#ifndef WIREWATCH_PII_RULES_TEXT_H
#define WIREWATCH_PII_RULES_TEXT_H

#include <stddef.h>

struct pii_engine;

/* pii_engine_load() of a file holding yaml; its error names the temporary file. Returns
 * what pii_engine_load() does, or -errno when the file cannot be written. */
int pii_engine_load_text(struct pii_engine **e, const char *yaml, char *err, size_t err_len);

#endif
