/*
 * The spool: a bounded on-disk FIFO of output batches for socket sinks that are down or
 * slow, so producers never block on the network and records survive a restart.
 *
 * Layout: a directory (created 0700) of segment files "<16 hex digits>.seg", named by a
 * sequence number; oldest first. Each segment is a run of frames:
 *
 *   [u32 magic][u32 raw_len][u32 comp_len][u32 crc32 of the compressed bytes][comp bytes]
 *
 * all little-endian, the bytes zlib-compressed (compress2). A frame is one batch (or the
 * unsent tail of one), always whole '\n'-terminated records. Once sent, a frame's magic is
 * overwritten with SPOOL_MAGIC_SENT, so a restart does not send it again; a segment is
 * deleted once every frame in it is sent. A segment is closed at ~4 MiB and a new one
 * started. A corrupt or truncated frame is counted and the rest of its segment skipped.
 *
 * Files are written with plain pwrite and never fsync'd: the spool survives the process,
 * not a power cut. A frame read back can be sent twice only if the process dies between
 * the send and the 4-byte mark.
 *
 * Owner: one thread (the output thread) does everything; no locking inside. Two processes
 * never share a directory: spool_open takes an exclusive flock on it.
 */
#ifndef WIREWATCH_SPOOL_H
#define WIREWATCH_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_MAGIC	    0x31505357u /* "WSP1" on disk: a frame not yet sent */
#define SPOOL_MAGIC_SENT    0x53505357u /* "WSPS" on disk: a frame already sent */
#define SPOOL_HDR_BYTES	    16u
#define SPOOL_SEGMENT_BYTES (4u << 20)

struct spool;

/*
 * Opens (creating it 0700 when missing) the spool in dir and picks up the segments a
 * previous run left. cap_bytes bounds the bytes on disk; frame_bytes is the largest batch
 * the caller appends (buffers are sized once here, not per frame). Returns 0 or -errno with
 * a message in err.
 */
int spool_open(struct spool **out, const char *dir, uint64_t cap_bytes, uint32_t frame_bytes,
	       char *err, size_t err_len);

/*
 * Appends one frame after every other. Returns 0, -ENOSPC when the frame would take the
 * spool past cap_bytes (nothing written: the caller drops and counts), or -errno on an I/O
 * error (nothing kept).
 */
int spool_append(struct spool *sp, const void *data, uint32_t len);

/*
 * Inserts one frame before every other (the unsent tail of a batch that was being sent
 * when its connection broke, which is older than everything spooled). Same returns as
 * spool_append. Drops any view spool_peek gave.
 */
int spool_prepend(struct spool *sp, const void *data, uint32_t len);

/*
 * The oldest frame not yet sent, decompressed: *data is valid until the next call that
 * changes the spool (consume, trim, prepend, close); peeking again without one returns the
 * same view without reading. Corrupt frames met on the way are counted and skipped.
 * Returns 0 or -ENODATA when nothing is left.
 */
int spool_peek(struct spool *sp, const char **data, uint32_t *len);

/* The frame spool_peek gave has been sent: marks it and deletes drained segments. */
int spool_consume(struct spool *sp);

/*
 * The first sent bytes of the frame spool_peek gave have been sent: the frame is replaced
 * by its tail, still first in line. The tail is written before the frame is marked, so a
 * crash in between repeats bytes rather than losing them.
 */
int spool_trim_head(struct spool *sp, uint32_t sent);

/* True when no frame is waiting (may read headers to skip frames sent in a previous run). */
bool spool_empty(struct spool *sp);

/* Bytes of every segment on disk, sent frames included until their segment goes. */
uint64_t spool_bytes(const struct spool *sp);

/* Corrupt or truncated frames met since open. */
uint64_t spool_corrupt_frames(const struct spool *sp);

/* Closes the files and frees; frames not yet sent stay on disk for the next run. */
void spool_close(struct spool *sp);

#endif
