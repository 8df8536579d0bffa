/*
 * What wirewatch says about itself: periodic `stats` records into the output, the
 * Prometheus endpoint (--metrics HOST:PORT), and the summary printed at exit. All three
 * read the counter registry (counters.h) and nothing else.
 */
#ifndef WIREWATCH_TELEMETRY_H
#define WIREWATCH_TELEMETRY_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "emit.h"

struct metrics_server;

/* Starts serving GET /metrics on addr ("HOST:PORT"); -errno with a message in err. */
int metrics_start(struct metrics_server **ms, const char *addr, char *err, size_t err_len);
void metrics_stop(struct metrics_server *ms);

/* Renders every counter in Prometheus text format into a malloc'd string. */
char *metrics_render(size_t *len);

/* Writes one `stats` record with the total of every counter. */
void stats_record_emit(struct emitter *e, uint64_t interval_s, int final);

/* The exit summary on stderr. */
void stats_print_summary(FILE *f, double seconds);

#endif
