/*
 * One finding as a pii-scan output line. Apart from scan_main.c because jansson (input) and
 * the project's writer (runtime/json.h, output) both name functions json_string/json_null.
 */
#ifndef WIREWATCH_PII_FINDING_JSON_H
#define WIREWATCH_PII_FINDING_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pii.h"

/* The echoed "id": a string, or an integer when str is NULL. */
struct pii_line_id {
	const char *str;
	size_t len;
	int64_t num;
};

/* Bytes a line needs at most for this id. */
size_t pii_finding_json_max(const struct pii_line_id *id);

/* Writes {"id","type","start","end","confidence"} and a newline; returns its length, or 0
 * when cap was too small. */
size_t pii_finding_json(char *buf, size_t cap, const struct pii_line_id *id,
			const struct pii_finding *f);

#endif
