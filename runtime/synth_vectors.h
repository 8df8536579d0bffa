/* Request/response byte vectors the synthetic source replays (see synth_vectors.c). */
#ifndef WIREWATCH_SYNTH_VECTORS_H
#define WIREWATCH_SYNTH_VECTORS_H

#include <stdint.h>

#define SYNTH_VECTORS_MAX 8

struct synth_vector {
	const char *name; /* protocol */
	char comm[16];	  /* the synthetic process name, "synth-<name>" */
	uint16_t port;	  /* server port the connection pretends to use */
	const uint8_t *req;
	uint32_t req_len;
	const uint8_t *resp;
	uint32_t resp_len;
};

/*
 * Fills out (SYNTH_VECTORS_MAX entries, may be NULL to only check the name) with the
 * vectors of a mix: "default" (all), or one protocol name. Returns how many, 0 for an
 * unknown mix.
 */
uint32_t synth_vectors_mix(const char *mix, const struct synth_vector **out);

#endif
