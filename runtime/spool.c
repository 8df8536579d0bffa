/*
 * The bounded on-disk spool behind socket sinks (format and contract in spool.h).
 *
 * Segments are kept in memory as a small array, oldest first, each with its size and a
 * read offset below which every frame is sent or skipped. Appends go to the last segment
 * (the "write segment", the only one with wfd open); reads and sent-marks go to the first.
 * spool_prepend and spool_trim_head put a frame before everything by writing a one-frame
 * segment whose sequence number is one below the oldest: fresh spools start numbering at
 * 2^32 so there is always room below.
 *
 * Frames are compressed with Z_BEST_SPEED: the spool fills while a sink is down or slow,
 * when keeping up with producers matters more than bytes on disk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "spool.h"

#define SPOOL_FIRST_SEQ (1ull << 32)
#define SPOOL_RAW_MAX	(256u << 20) /* a larger raw_len is a corrupt header, not a batch */
#define SPOOL_NAME_LEN	21	     /* 16 hex digits + ".seg" + NUL */

struct spool_seg {
	uint64_t seq;
	uint64_t size; /* bytes in the file */
	uint64_t roff; /* every frame before this offset is sent or skipped */
};

struct spool {
	int dir_fd; /* holds the flock */
	char dir[PATH_MAX];
	uint64_t cap_bytes;
	uint64_t bytes; /* sum of segs[].size */
	uint64_t corrupt_frames;

	struct spool_seg *segs; /* oldest first */
	uint32_t nsegs;
	uint32_t segs_cap;
	int wfd; /* open on segs[nsegs - 1] while it takes appends, else -1 */
	int rfd; /* open on the segment numbered rfd_seq (reads and marks), or -1 */
	uint64_t rfd_seq;
	uint64_t next_seq; /* name of the next write segment */

	/* segs[0].roff is at a valid unsent frame whose header is below */
	bool positioned;
	uint32_t hdr_raw_len;
	uint32_t hdr_comp_len;
	uint32_t hdr_crc;

	/* the frame spool_peek returned: raw[0..peek_len), at peek_off in segs[0] */
	bool peeked;
	uint64_t peek_off;
	uint32_t peek_len;

	char *raw; /* decompressed frame for spool_peek */
	uint32_t raw_cap;
	uint8_t *comp; /* header + compressed bytes, for writing and for reading */
	uint32_t comp_cap;
};

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void seg_name(char name[SPOOL_NAME_LEN], uint64_t seq)
{
	snprintf(name, SPOOL_NAME_LEN, "%016" PRIx64 ".seg", seq);
}

static bool seg_name_parse(const char *name, uint64_t *seq)
{
	uint64_t v = 0;

	for (int i = 0; i < 16; i++) {
		char c = name[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	if (strcmp(name + 16, ".seg") != 0)
		return false;
	*seq = v;
	return true;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* 0 when all len bytes were read, -EIO on a short file, -errno on failure. */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static bool seg_is_write(const struct spool *sp, uint32_t idx)
{
	return sp->wfd >= 0 && idx == sp->nsegs - 1;
}

static void spool_forget_head(struct spool *sp)
{
	sp->positioned = false;
	sp->peeked = false;
}

/* Deletes segment idx (every frame in it is sent, skipped or it is unreadable). */
static void seg_drop(struct spool *sp, uint32_t idx)
{
	char name[SPOOL_NAME_LEN];
	struct spool_seg *s = &sp->segs[idx];

	if (seg_is_write(sp, idx)) {
		close(sp->wfd);
		sp->wfd = -1;
	}
	if (sp->rfd >= 0 && sp->rfd_seq == s->seq) {
		close(sp->rfd);
		sp->rfd = -1;
	}
	seg_name(name, s->seq);
	unlinkat(sp->dir_fd, name, 0);
	sp->bytes -= s->size;
	memmove(s, s + 1, (sp->nsegs - idx - 1) * sizeof(*s));
	sp->nsegs--;
	if (idx == 0)
		spool_forget_head(sp);
}

/* Makes room for one more segment entry (once per segment, never per frame). */
static int segs_reserve(struct spool *sp)
{
	struct spool_seg *segs;
	uint32_t cap;

	if (sp->nsegs < sp->segs_cap)
		return 0;
	cap = sp->segs_cap ? sp->segs_cap * 2 : 16;
	segs = realloc(sp->segs, cap * sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	sp->segs = segs;
	sp->segs_cap = cap;
	return 0;
}

/* An fd on segs[0] open for reading and marking. */
static int head_fd(struct spool *sp)
{
	char name[SPOOL_NAME_LEN];

	if (seg_is_write(sp, 0))
		return sp->wfd;
	if (sp->rfd >= 0 && sp->rfd_seq == sp->segs[0].seq)
		return sp->rfd;
	if (sp->rfd >= 0)
		close(sp->rfd);
	seg_name(name, sp->segs[0].seq);
	sp->rfd = openat(sp->dir_fd, name, O_RDWR | O_CLOEXEC);
	if (sp->rfd < 0)
		return -errno;
	sp->rfd_seq = sp->segs[0].seq;
	return sp->rfd;
}

/* Counts a bad frame in segs[0] and gives up on the rest of that segment. */
static void head_skip_corrupt(struct spool *sp)
{
	sp->corrupt_frames++;
	sp->segs[0].roff = sp->segs[0].size;
	spool_forget_head(sp);
}

/*
 * Moves segs[0].roff to the next unsent, plausible frame header (its CRC is checked when
 * the body is read), stepping over frames marked sent, corrupt tails and drained segments.
 */
static int spool_position(struct spool *sp)
{
	while (!sp->positioned) {
		uint8_t hdr[SPOOL_HDR_BYTES];
		struct spool_seg *s;
		uint32_t magic, raw_len, comp_len;
		int fd;

		if (sp->nsegs == 0)
			return -ENODATA;
		s = &sp->segs[0];
		if (s->roff >= s->size) {
			/* Drained, the write segment too: deleting it keeps an idle spool at 0 bytes. */
			seg_drop(sp, 0);
			continue;
		}
		fd = head_fd(sp);
		if (s->size - s->roff < SPOOL_HDR_BYTES || fd < 0 ||
		    pread_all(fd, hdr, sizeof(hdr), s->roff) < 0) {
			head_skip_corrupt(sp);
			continue;
		}
		magic = get_le32(hdr);
		raw_len = get_le32(hdr + 4);
		comp_len = get_le32(hdr + 8);
		if ((magic != SPOOL_MAGIC && magic != SPOOL_MAGIC_SENT) ||
		    raw_len > SPOOL_RAW_MAX || comp_len == 0 || comp_len > compressBound(raw_len) ||
		    comp_len > s->size - s->roff - SPOOL_HDR_BYTES) {
			head_skip_corrupt(sp);
			continue;
		}
		if (magic == SPOOL_MAGIC_SENT) {
			s->roff += SPOOL_HDR_BYTES + comp_len;
			continue;
		}
		sp->hdr_raw_len = raw_len;
		sp->hdr_comp_len = comp_len;
		sp->hdr_crc = get_le32(hdr + 12);
		sp->positioned = true;
	}
	return 0;
}

/* Compresses data into sp->comp behind a header; returns the frame's size or -errno. */
static int64_t frame_build(struct spool *sp, const void *data, uint32_t len)
{
	uLongf comp_len;

	if ((uint64_t)compressBound(len) + SPOOL_HDR_BYTES > sp->comp_cap) {
		/* Only frames bigger than frame_bytes get here (the tail of one left by a run with
		 * bigger batches): grow once rather than refuse them. */
		uint32_t cap = (uint32_t)compressBound(len) + SPOOL_HDR_BYTES;
		uint8_t *comp = realloc(sp->comp, cap);

		if (!comp)
			return -ENOMEM;
		sp->comp = comp;
		sp->comp_cap = cap;
	}
	comp_len = sp->comp_cap - SPOOL_HDR_BYTES;
	if (compress2(sp->comp + SPOOL_HDR_BYTES, &comp_len, data, len, Z_BEST_SPEED) != Z_OK)
		return -EIO;
	put_le32(sp->comp, SPOOL_MAGIC);
	put_le32(sp->comp + 4, len);
	put_le32(sp->comp + 8, (uint32_t)comp_len);
	put_le32(sp->comp + 12,
		 (uint32_t)crc32(crc32(0L, Z_NULL, 0), sp->comp + SPOOL_HDR_BYTES, (uInt)comp_len));
	return (int64_t)(SPOOL_HDR_BYTES + comp_len);
}

static int seg_create(struct spool *sp, uint64_t seq)
{
	char name[SPOOL_NAME_LEN];
	int fd;

	seg_name(name, seq);
	fd = openat(sp->dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

int spool_append(struct spool *sp, const void *data, uint32_t len)
{
	struct spool_seg *s;
	int64_t frame;
	int err;

	frame = frame_build(sp, data, len);
	if (frame < 0)
		return (int)frame;
	if (sp->bytes + (uint64_t)frame > sp->cap_bytes)
		return -ENOSPC;
	if (sp->wfd >= 0 && sp->segs[sp->nsegs - 1].size >= SPOOL_SEGMENT_BYTES) {
		close(sp->wfd);
		sp->wfd = -1;
	}
	if (sp->wfd < 0) {
		int fd;

		err = segs_reserve(sp);
		if (err)
			return err;
		fd = seg_create(sp, sp->next_seq);
		if (fd < 0)
			return fd;
		sp->segs[sp->nsegs++] = (struct spool_seg){.seq = sp->next_seq};
		sp->next_seq++;
		sp->wfd = fd;
	}
	s = &sp->segs[sp->nsegs - 1];
	err = pwrite_all(sp->wfd, sp->comp, (size_t)frame, s->size);
	if (err) {
		/* A torn frame would read back as corruption and cost the rest of the segment. */
		if (ftruncate(sp->wfd, (off_t)s->size) < 0)
			s->size += (uint64_t)frame; /* keep the accounting honest about the disk */
		return err;
	}
	s->size += (uint64_t)frame;
	sp->bytes += (uint64_t)frame;
	return 0;
}

/* Writes one frame as a new segment before every other. over_cap: see spool_trim_head. */
static int spool_write_front(struct spool *sp, const void *data, uint32_t len, bool over_cap)
{
	uint64_t seq;
	int64_t frame;
	int fd, err;

	if (sp->nsegs == 0)
		return spool_append(sp, data, len);
	seq = sp->segs[0].seq;
	if (seq == 0)
		return -EOVERFLOW;
	frame = frame_build(sp, data, len);
	if (frame < 0)
		return (int)frame;
	if (!over_cap && sp->bytes + (uint64_t)frame > sp->cap_bytes)
		return -ENOSPC;
	err = segs_reserve(sp);
	if (err)
		return err;
	fd = seg_create(sp, seq - 1);
	if (fd < 0)
		return fd;
	err = pwrite_all(fd, sp->comp, (size_t)frame, 0);
	close(fd);
	if (err) {
		char name[SPOOL_NAME_LEN];

		seg_name(name, seq - 1);
		unlinkat(sp->dir_fd, name, 0);
		return err;
	}
	memmove(sp->segs + 1, sp->segs, sp->nsegs * sizeof(*sp->segs));
	sp->segs[0] = (struct spool_seg){.seq = seq - 1, .size = (uint64_t)frame};
	sp->nsegs++;
	sp->bytes += (uint64_t)frame;
	spool_forget_head(sp);
	return 0;
}

int spool_prepend(struct spool *sp, const void *data, uint32_t len)
{
	return spool_write_front(sp, data, len, false);
}

int spool_peek(struct spool *sp, const char **data, uint32_t *len)
{
	while (!sp->peeked) {
		struct spool_seg *s;
		uLongf raw_len;
		int err, fd;

		err = spool_position(sp);
		if (err)
			return err;
		s = &sp->segs[0];
		/* Frames from a run with bigger batches: grow once, rather than lose them. */
		if (sp->hdr_comp_len + SPOOL_HDR_BYTES > sp->comp_cap) {
			uint8_t *comp = realloc(sp->comp, sp->hdr_comp_len + SPOOL_HDR_BYTES);

			if (!comp)
				return -ENOMEM;
			sp->comp = comp;
			sp->comp_cap = sp->hdr_comp_len + SPOOL_HDR_BYTES;
		}
		if (sp->hdr_raw_len > sp->raw_cap) {
			char *raw = realloc(sp->raw, sp->hdr_raw_len);

			if (!raw)
				return -ENOMEM;
			sp->raw = raw;
			sp->raw_cap = sp->hdr_raw_len;
		}
		fd = head_fd(sp);
		if (fd < 0 ||
		    pread_all(fd, sp->comp, sp->hdr_comp_len, s->roff + SPOOL_HDR_BYTES) < 0 ||
		    (uint32_t)crc32(crc32(0L, Z_NULL, 0), sp->comp, sp->hdr_comp_len) !=
			    sp->hdr_crc) {
			head_skip_corrupt(sp);
			continue;
		}
		raw_len = sp->raw_cap;
		if (uncompress((Bytef *)sp->raw, &raw_len, sp->comp, sp->hdr_comp_len) != Z_OK ||
		    raw_len != sp->hdr_raw_len) {
			head_skip_corrupt(sp);
			continue;
		}
		sp->peeked = true;
		sp->peek_off = s->roff;
		sp->peek_len = sp->hdr_raw_len;
	}
	*data = sp->raw;
	*len = sp->peek_len;
	return 0;
}

/*
 * Marks the frame at off in segment idx sent, or deletes the segment when that frame was
 * its last (the write segment too: the next append starts a fresh one).
 */
static int frame_retire(struct spool *sp, uint32_t idx, uint64_t off, uint32_t comp_len)
{
	struct spool_seg *s = &sp->segs[idx];
	char name[SPOOL_NAME_LEN];
	uint8_t magic[4];
	int fd, err;

	s->roff = off + SPOOL_HDR_BYTES + comp_len;
	if (s->roff >= s->size) {
		seg_drop(sp, idx);
		return 0;
	}
	put_le32(magic, SPOOL_MAGIC_SENT);
	if (idx == 0 || seg_is_write(sp, idx)) {
		fd = idx == 0 ? head_fd(sp) : sp->wfd;
		return fd < 0 ? fd : pwrite_all(fd, magic, sizeof(magic), off);
	}
	seg_name(name, s->seq);
	fd = openat(sp->dir_fd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = pwrite_all(fd, magic, sizeof(magic), off);
	close(fd);
	return err;
}

int spool_consume(struct spool *sp)
{
	if (!sp->peeked)
		return -EINVAL;
	spool_forget_head(sp);
	return frame_retire(sp, 0, sp->peek_off, sp->hdr_comp_len);
}

int spool_trim_head(struct spool *sp, uint32_t sent)
{
	uint64_t off = sp->peek_off;
	uint32_t comp_len = sp->hdr_comp_len;
	int err;

	if (!sp->peeked || sent == 0 || sent >= sp->peek_len)
		return -EINVAL;
	/* Over the cap is allowed here: the head it replaces frees more than the tail takes. */
	err = spool_write_front(sp, sp->raw + sent, sp->peek_len - sent, true);
	if (err)
		return err;
	/* The peeked frame was in segs[0], so the tail went in front of it: it is segs[1] now. */
	return frame_retire(sp, 1, off, comp_len);
}

bool spool_empty(struct spool *sp)
{
	return !sp->peeked && spool_position(sp) == -ENODATA;
}

uint64_t spool_bytes(const struct spool *sp)
{
	return sp->bytes;
}

uint64_t spool_corrupt_frames(const struct spool *sp)
{
	return sp->corrupt_frames;
}

static int mkdir_parents(const char *dir)
{
	char path[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct spool_seg *)a)->seq, y = ((const struct spool_seg *)b)->seq;

	return x < y ? -1 : x > y;
}

/* Picks up the segments of a previous run, oldest first. */
static int spool_scan(struct spool *sp)
{
	struct dirent *de;
	DIR *d;
	int fd, err = 0;

	fd = dup(sp->dir_fd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct stat st;
		uint64_t seq;

		if (!seg_name_parse(de->d_name, &seq))
			continue;
		if (fstatat(sp->dir_fd, de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (st.st_size == 0) {
			unlinkat(sp->dir_fd, de->d_name, 0);
			continue;
		}
		err = segs_reserve(sp);
		if (err)
			break;
		sp->segs[sp->nsegs++] =
			(struct spool_seg){.seq = seq, .size = (uint64_t)st.st_size};
		sp->bytes += (uint64_t)st.st_size;
		if (seq >= sp->next_seq)
			sp->next_seq = seq + 1;
	}
	closedir(d);
	if (sp->nsegs > 1)
		qsort(sp->segs, sp->nsegs, sizeof(*sp->segs), seg_cmp);
	return err;
}

int spool_open(struct spool **out, const char *dir, uint64_t cap_bytes, uint32_t frame_bytes,
	       char *err, size_t err_len)
{
	struct spool *sp;
	int ret;

	*out = NULL;
	sp = calloc(1, sizeof(*sp));
	if (!sp) {
		snprintf(err, err_len, "spool: out of memory");
		return -ENOMEM;
	}
	sp->dir_fd = sp->wfd = sp->rfd = -1;
	sp->cap_bytes = cap_bytes;
	sp->next_seq = SPOOL_FIRST_SEQ;
	if (snprintf(sp->dir, sizeof(sp->dir), "%s", dir) >= (int)sizeof(sp->dir)) {
		snprintf(err, err_len, "spool_dir '%s': path too long", dir);
		ret = -ENAMETOOLONG;
		goto free_spool;
	}
	ret = mkdir_parents(dir);
	if (ret) {
		snprintf(err, err_len, "spool_dir '%s': cannot create: %s", dir, strerror(-ret));
		goto free_spool;
	}
	sp->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dir_fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "spool_dir '%s': cannot open: %s", dir, strerror(-ret));
		goto free_spool;
	}
	if (flock(sp->dir_fd, LOCK_EX | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(err, err_len, "spool_dir '%s': in use by another process", dir);
		goto close_dir;
	}
	sp->raw_cap = frame_bytes;
	sp->comp_cap = (uint32_t)compressBound(frame_bytes) + SPOOL_HDR_BYTES;
	sp->raw = malloc(sp->raw_cap ? sp->raw_cap : 1);
	sp->comp = malloc(sp->comp_cap);
	if (!sp->raw || !sp->comp) {
		snprintf(err, err_len, "spool: out of memory");
		ret = -ENOMEM;
		goto free_buffers;
	}
	ret = spool_scan(sp);
	if (ret) {
		snprintf(err, err_len, "spool_dir '%s': cannot list: %s", dir, strerror(-ret));
		goto free_buffers;
	}
	*out = sp;
	return 0;

free_buffers:
	free(sp->segs);
	free(sp->raw);
	free(sp->comp);
close_dir:
	close(sp->dir_fd);
free_spool:
	free(sp);
	return ret;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	if (sp->wfd >= 0)
		close(sp->wfd);
	if (sp->rfd >= 0)
		close(sp->rfd);
	close(sp->dir_fd); /* releases the flock */
	free(sp->segs);
	free(sp->raw);
	free(sp->comp);
	free(sp);
}
