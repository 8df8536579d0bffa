/*
 * Recording and replay of chunks (format in recording.h). The replay source lives here
 * too so that the format is written and read in one file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "emit.h"
#include "recording.h"
#include "source.h"

#define RECORDING_MAGIC	  "WWREC\0\0\1"
#define RECORDING_VERSION 1u
#define FRAME_MAGIC	  0x52465757u
#define FRAME_RAW_TARGET  (256u * 1024)	      /* raw bytes gathered before a frame is cut */
#define FRAME_RAW_MAX	  (64u * 1024 * 1024) /* bound on any frame a replay accepts */

/* The fixed part of a chunk as stored: the in-memory header without the payload. */
struct recorded_chunk {
	uint64_t conn_key;
	uint32_t generation;
	uint8_t kind, dir, role, flags;
	uint64_t ts_ns;
	uint64_t offset;
	uint32_t len;
	uint32_t len_true;
	uint32_t pid;
	uint32_t reserved;
	char comm[CHUNK_COMM_LEN];
	struct endpoint src;
	struct endpoint dst;
};
_Static_assert(sizeof(struct recorded_chunk) == 104, "recording format changed: bump version");
_Static_assert(offsetof(struct chunk, dst) == offsetof(struct recorded_chunk, dst) &&
		       offsetof(struct chunk, data) == sizeof(struct recorded_chunk),
	       "a recorded chunk is the leading part of struct chunk");

struct file_header {
	char magic[8];
	uint32_t version;
	uint32_t chunk_header_size;
	uint64_t created_ns;
};
_Static_assert(sizeof(struct file_header) == 24, "file header layout");

struct frame_header {
	uint32_t magic;
	uint32_t raw_len;
	uint32_t comp_len;
	uint32_t crc;
};

struct recorder {
	pthread_mutex_t lock; /* readers append concurrently; the lock orders whole entries */
	int fd;
	char path[256];
	uint8_t *raw;
	uint32_t raw_len;
	uint8_t *comp;
	uLong comp_cap;
	int error; /* first write error, reported at close */
};

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int recorder_open(struct recorder **out, const char *path, char *err, size_t err_len)
{
	struct file_header h = {.version = RECORDING_VERSION,
				.chunk_header_size = sizeof(struct recorded_chunk),
				.created_ns = realtime_ns()};
	struct recorder *rec = calloc(1, sizeof(*rec));
	int ret;

	if (!rec)
		return -ENOMEM;
	memcpy(h.magic, RECORDING_MAGIC, sizeof(h.magic));
	snprintf(rec->path, sizeof(rec->path), "%s", path);
	rec->comp_cap =
		compressBound(FRAME_RAW_TARGET + sizeof(struct recorded_chunk) + (1u << 24));
	rec->raw = malloc(FRAME_RAW_TARGET + sizeof(struct recorded_chunk) + (1u << 24));
	rec->comp = malloc(rec->comp_cap);
	rec->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (rec->fd < 0 || !rec->raw || !rec->comp) {
		ret = rec->fd < 0 ? -errno : -ENOMEM;
		snprintf(err, err_len, "--record %s: %s", path, strerror(-ret));
		goto err_free;
	}
	ret = write_all(rec->fd, &h, sizeof(h));
	if (ret) {
		snprintf(err, err_len, "--record %s: %s", path, strerror(-ret));
		close(rec->fd);
		goto err_free;
	}
	pthread_mutex_init(&rec->lock, NULL);
	*out = rec;
	return 0;

err_free:
	free(rec->raw);
	free(rec->comp);
	free(rec);
	return ret;
}

static void recorder_cut_frame(struct recorder *rec)
{
	uLongf comp_len = rec->comp_cap;
	struct frame_header fh;
	int ret;

	if (rec->raw_len == 0 || rec->error)
		return;
	if (compress2(rec->comp, &comp_len, rec->raw, rec->raw_len, Z_BEST_SPEED) != Z_OK) {
		rec->error = -EIO;
		return;
	}
	fh.magic = FRAME_MAGIC;
	fh.raw_len = rec->raw_len;
	fh.comp_len = (uint32_t)comp_len;
	fh.crc = (uint32_t)crc32(0, rec->comp, (uInt)comp_len);
	ret = write_all(rec->fd, &fh, sizeof(fh));
	if (!ret)
		ret = write_all(rec->fd, rec->comp, comp_len);
	if (ret)
		rec->error = ret;
	rec->raw_len = 0;
}

void recorder_write(struct recorder *rec, const struct chunk *c)
{
	struct recorded_chunk rc;
	uint32_t len = c->kind == CHUNK_DATA ? c->len : 0;

	memcpy(&rc, c, sizeof(rc)); /* same leading layout; payload appended below */
	rc.len = len;
	pthread_mutex_lock(&rec->lock);
	memcpy(rec->raw + rec->raw_len, &rc, sizeof(rc));
	memcpy(rec->raw + rec->raw_len + sizeof(rc), c->data, len);
	rec->raw_len += (uint32_t)sizeof(rc) + len;
	if (rec->raw_len >= FRAME_RAW_TARGET)
		recorder_cut_frame(rec);
	pthread_mutex_unlock(&rec->lock);
}

int recorder_close(struct recorder *rec)
{
	int ret;

	recorder_cut_frame(rec);
	ret = rec->error;
	if (close(rec->fd) < 0 && !ret)
		ret = -errno;
	if (ret)
		fprintf(stderr, "wirewatch: --record %s: %s\n", rec->path, strerror(-ret));
	pthread_mutex_destroy(&rec->lock);
	free(rec->raw);
	free(rec->comp);
	free(rec);
	return ret;
}

/* ---- replay source ---- */

struct replay {
	FILE *f;
	char path[256];
	uint64_t offset; /* file offset of the next frame */
	uint8_t *raw;
	uint8_t *comp;
};

static int replay_open(struct source *src, const char *arg, const struct config *cfg, char *err,
		       size_t err_len)
{
	struct replay *rp = calloc(1, sizeof(*rp));
	struct file_header h;

	(void)cfg;
	if (!rp)
		return -ENOMEM;
	snprintf(rp->path, sizeof(rp->path), "%s", arg);
	rp->f = fopen(arg, "rb");
	if (!rp->f) {
		int ret = -errno;

		snprintf(err, err_len, "replay:%s: %s", arg, strerror(errno));
		free(rp);
		return ret;
	}
	if (fread(&h, sizeof(h), 1, rp->f) != 1 || memcmp(h.magic, RECORDING_MAGIC, 8) != 0 ||
	    h.version != RECORDING_VERSION ||
	    h.chunk_header_size != sizeof(struct recorded_chunk)) {
		snprintf(err, err_len,
			 "replay:%s: not a wirewatch recording (version %u expected at offset 0)",
			 arg, RECORDING_VERSION);
		fclose(rp->f);
		free(rp);
		return -EINVAL;
	}
	rp->offset = sizeof(h);
	src->priv = rp;
	return 0;
}

static uint32_t replay_readers(struct source *src)
{
	(void)src;
	return 1; /* one reader keeps the recorded order */
}

/* Emits one recorded chunk, split into several when it exceeds this run's chunk size. */
static int replay_emit(struct reader *rd, const struct recorded_chunk *rc, const uint8_t *payload)
{
	uint32_t cap = reader_chunk_capacity(rd);
	uint32_t done = 0;

	do {
		struct chunk *c = reader_chunk_get(rd);
		uint32_t n = rc->len - done < cap ? rc->len - done : cap;

		if (!c)
			return -ENOBUFS;
		memcpy(c, rc, sizeof(*rc));
		c->len = n;
		c->offset = rc->offset + done;
		if (rc->len > cap) /* the true length belongs to the last piece */
			c->len_true = done + n == rc->len ? rc->len_true - done : n;
		memcpy(c->data, payload + done, n);
		reader_emit(rd, c);
		done += n;
	} while (done < rc->len);
	return 0;
}

static int replay_frame_entries(struct reader *rd, const uint8_t *raw, uint32_t raw_len)
{
	uint32_t pos = 0;

	while (pos < raw_len) {
		struct recorded_chunk rc;

		if (raw_len - pos < sizeof(rc))
			return -EINVAL;
		memcpy(&rc, raw + pos, sizeof(rc));
		pos += sizeof(rc);
		if (rc.len > raw_len - pos || rc.len > rc.len_true || rc.dir > DIR_RESPONSE ||
		    rc.kind > CHUNK_GAP)
			return -EINVAL;
		if (replay_emit(rd, &rc, raw + pos) < 0)
			return -ENOBUFS;
		pos += rc.len;
	}
	return 0;
}

static int replay_run(struct source *src, struct reader *rd, uint32_t index)
{
	struct replay *rp = src->priv;
	struct frame_header fh;
	const char *problem = NULL;

	(void)index;
	while (!reader_stopping(rd)) {
		size_t got = fread(&fh, 1, sizeof(fh), rp->f);
		uLongf raw_len;

		if (got == 0 && feof(rp->f))
			return 0;
		if (got != sizeof(fh)) {
			problem = "truncated frame header";
			break;
		}
		if (fh.magic != FRAME_MAGIC || fh.raw_len > FRAME_RAW_MAX ||
		    fh.comp_len > compressBound(FRAME_RAW_MAX)) {
			problem = "bad frame header";
			break;
		}
		free(rp->comp);
		free(rp->raw);
		rp->comp = malloc(fh.comp_len ? fh.comp_len : 1);
		rp->raw = malloc(fh.raw_len ? fh.raw_len : 1);
		if (!rp->comp || !rp->raw) {
			problem = "out of memory";
			break;
		}
		if (fread(rp->comp, 1, fh.comp_len, rp->f) != fh.comp_len) {
			problem = "truncated frame";
			break;
		}
		if ((uint32_t)crc32(0, rp->comp, fh.comp_len) != fh.crc) {
			problem = "frame checksum mismatch";
			break;
		}
		raw_len = fh.raw_len;
		if (uncompress(rp->raw, &raw_len, rp->comp, fh.comp_len) != Z_OK ||
		    raw_len != fh.raw_len) {
			problem = "frame does not decompress";
			break;
		}
		if (replay_frame_entries(rd, rp->raw, fh.raw_len) < 0) {
			problem = "malformed chunk entry in frame";
			break;
		}
		rp->offset += sizeof(fh) + fh.comp_len;
	}
	if (!problem)
		return 0;
	fprintf(stderr, "wirewatch: replay:%s: offset %" PRIu64 ": %s\n", rp->path, rp->offset,
		problem);
	return -EINVAL;
}

static void replay_close(struct source *src)
{
	struct replay *rp = src->priv;

	if (!rp)
		return;
	fclose(rp->f);
	free(rp->raw);
	free(rp->comp);
	free(rp);
	src->priv = NULL;
}

const struct source_ops replay_source_ops = {
	.name = "replay",
	.live = false,
	.open = replay_open,
	.readers = replay_readers,
	.run = replay_run,
	.close = replay_close,
};
