/*
 * Recordings: every chunk a source produced, saved by --record FILE and played back
 * exactly by --source replay:FILE, so a capture from production can be re-analysed
 * and turned into a test.
 *
 * File format (version 1, little-endian):
 *   header  "WWREC\0\0\1" (8 bytes), u32 version = 1, u32 chunk header size, u64 created_ns
 *   frames  u32 magic 0x52465757 ("WWFR"), u32 raw_len, u32 comp_len,
 *           u32 crc32 of the compressed bytes, then comp_len bytes of zlib data which
 *           inflate to raw_len bytes: a sequence of chunk entries, each the fixed chunk
 *           header (struct recorded_chunk) followed by len payload bytes.
 * A frame is written whole or not at all, so a file cut short loses at most the
 * frame being written; the replay names the offset of the first damaged frame.
 */
#ifndef WIREWATCH_RECORDING_H
#define WIREWATCH_RECORDING_H

#include <stdint.h>

#include "chunk.h"

struct recorder;

/* Creates (truncates) path. Returns 0 or -errno with a message in err. */
int recorder_open(struct recorder **rec, const char *path, char *err, size_t err_len);

/* Appends one chunk; any reader thread may call it (frames are built under a lock). */
void recorder_write(struct recorder *rec, const struct chunk *c);

/* Writes the last frame and closes the file; returns 0 or -errno (message printed). */
int recorder_close(struct recorder *rec);

#endif
