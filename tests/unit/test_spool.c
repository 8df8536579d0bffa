/*
 * Spool tests: order across segments, restart, the cap, corrupt and truncated frames,
 * trimming and prepending. Each test works in its own fresh directory under /tmp.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "spool.h"

#define FRAME_MAX (256u << 10)

struct fixture {
	char dir[64];
	char err[256];
	char buf[FRAME_MAX];
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/ww-spool-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static void dir_remove(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) < 0 && errno == EISDIR)
			dir_remove(path);
	}
	closedir(d);
	rmdir(dir);
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	dir_remove(f->dir);
	free(f);
	return 0;
}

/* Frame i: its number, then bytes from a generator seeded by i (incompressible enough to
 * fill segments quickly), len bytes in all. */
static uint32_t frame_fill(char *buf, uint32_t i, uint32_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1);

	memcpy(buf, &i, sizeof(i));
	for (uint32_t k = sizeof(i); k < len; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[k] = (char)x;
	}
	return len;
}

static void frame_expect(struct spool *sp, uint32_t i, uint32_t len)
{
	char want[FRAME_MAX];
	const char *data;
	uint32_t got_len;

	assert_int_equal(spool_peek(sp, &data, &got_len), 0);
	frame_fill(want, i, len);
	assert_int_equal(got_len, len);
	assert_memory_equal(data, want, len);
	assert_int_equal(spool_consume(sp), 0);
}

static struct spool *spool_open_ok(struct fixture *f, uint64_t cap)
{
	struct spool *sp;
	int ret = spool_open(&sp, f->dir, cap, FRAME_MAX, f->err, sizeof(f->err));

	if (ret)
		fail_msg("spool_open: %d %s", ret, f->err);
	return sp;
}

static void append_ok(struct spool *sp, struct fixture *f, uint32_t i, uint32_t len)
{
	assert_int_equal(spool_append(sp, f->buf, frame_fill(f->buf, i, len)), 0);
}

static uint32_t segment_count(const char *dir)
{
	struct dirent *de;
	uint32_t n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strstr(de->d_name, ".seg") != NULL;
	closedir(d);
	return n;
}

/* Path of the idx-th segment, oldest first. */
static void segment_path(const char *dir, uint32_t idx, char *path, size_t path_len)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), k = 0;

	assert_true(n > 0);
	path[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strstr(names[i]->d_name, ".seg") && (uint32_t)k++ == idx)
			snprintf(path, path_len, "%s/%s", dir, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	assert_true(path[0] != '\0');
}

/* Offset of frame idx in a segment file, by walking the headers. */
static off_t frame_offset(const char *path, uint32_t idx)
{
	uint8_t hdr[SPOOL_HDR_BYTES];
	off_t off = 0;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	for (uint32_t i = 0; i < idx; i++) {
		uint32_t comp_len;

		assert_int_equal(pread(fd, hdr, sizeof(hdr), off), (ssize_t)sizeof(hdr));
		memcpy(&comp_len, hdr + 8, 4); /* little-endian host */
		off += SPOOL_HDR_BYTES + comp_len;
	}
	close(fd);
	return off;
}

static void byte_flip(const char *path, off_t off)
{
	uint8_t c;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x5a;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void test_spool_fresh_dir(void **state)
{
	struct fixture *f = *state;
	const char *data;
	struct spool *sp;
	struct stat st;
	uint32_t len;

	/* A nested directory that does not exist yet is created, 0700. */
	strcat(f->dir, "/a/b");
	sp = spool_open_ok(f, 1 << 20);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_true(spool_empty(sp));
	assert_int_equal(spool_peek(sp, &data, &len), -ENODATA);
	assert_int_equal(spool_bytes(sp), 0);
	spool_close(sp);
	f->dir[strlen(f->dir) - 4] = '\0';
}

static void test_spool_order_across_segments(void **state)
{
	struct fixture *f = *state;
	struct spool *sp = spool_open_ok(f, 64ull << 20);
	const uint32_t frames = 40, len = 256u << 10; /* ~10 MiB: three segments */

	for (uint32_t i = 0; i < frames; i++)
		append_ok(sp, f, i, len - i);
	assert_true(segment_count(f->dir) >= 3);
	assert_false(spool_empty(sp));
	for (uint32_t i = 0; i < frames; i++) {
		frame_expect(sp, i, len - i);
		/* Appending while reading lands behind everything already there. */
		if (i == 5)
			append_ok(sp, f, 1000, 100);
	}
	frame_expect(sp, 1000, 100);
	assert_true(spool_empty(sp));
	assert_int_equal(spool_bytes(sp), 0);
	assert_int_equal(segment_count(f->dir), 0);
	assert_int_equal(spool_corrupt_frames(sp), 0);
	spool_close(sp);
}

static void test_spool_peek_is_stable(void **state)
{
	struct fixture *f = *state;
	struct spool *sp = spool_open_ok(f, 1 << 20);
	const char *a, *b;
	uint32_t la, lb;

	append_ok(sp, f, 1, 1000);
	append_ok(sp, f, 2, 1000);
	assert_int_equal(spool_peek(sp, &a, &la), 0);
	assert_int_equal(spool_peek(sp, &b, &lb), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(la, lb);
	frame_expect(sp, 1, 1000);
	frame_expect(sp, 2, 1000);
	assert_int_equal(spool_consume(sp), -EINVAL); /* nothing peeked */
	spool_close(sp);
}

static void test_spool_reopen_picks_up_leftovers(void **state)
{
	struct fixture *f = *state;
	struct spool *sp = spool_open_ok(f, 64ull << 20);
	const uint32_t len = 200u << 10;

	for (uint32_t i = 0; i < 30; i++)
		append_ok(sp, f, i, len);
	for (uint32_t i = 0; i < 12; i++)
		frame_expect(sp, i, len);
	spool_close(sp);

	/* Frames sent before the restart are not seen again; the rest are, in order, and new
	 * appends go behind them. */
	sp = spool_open_ok(f, 64ull << 20);
	assert_false(spool_empty(sp));
	append_ok(sp, f, 500, 300);
	for (uint32_t i = 12; i < 30; i++) {
		frame_expect(sp, i, len);
		if (i == 20) {
			spool_close(sp);
			sp = spool_open_ok(f, 64ull << 20);
		}
	}
	frame_expect(sp, 500, 300);
	assert_true(spool_empty(sp));
	assert_int_equal(segment_count(f->dir), 0);
	assert_int_equal(spool_corrupt_frames(sp), 0);
	spool_close(sp);
}

static void test_spool_cap_drops(void **state)
{
	struct fixture *f = *state;
	const uint32_t len = 64u << 10;
	uint64_t cap = 4 * (len + 1024);
	struct spool *sp = spool_open_ok(f, cap);
	uint32_t kept = 0, dropped = 0;

	for (uint32_t i = 0; i < 10; i++) {
		int ret = spool_append(sp, f->buf, frame_fill(f->buf, i, len));

		if (ret == 0) {
			kept++;
		} else {
			assert_int_equal(ret, -ENOSPC);
			dropped++;
		}
		assert_true(spool_bytes(sp) <= cap);
	}
	assert_int_equal(kept, 4);
	assert_int_equal(dropped, 6);
	for (uint32_t i = 0; i < kept; i++)
		frame_expect(sp, i, len);
	assert_true(spool_empty(sp));
	/* Draining frees the space again. */
	append_ok(sp, f, 77, len);
	frame_expect(sp, 77, len);

	/* A zero cap spools nothing. */
	spool_close(sp);
	sp = spool_open_ok(f, 0);
	assert_int_equal(spool_append(sp, f->buf, 10), -ENOSPC);
	assert_int_equal(segment_count(f->dir), 0);
	spool_close(sp);
}

/* Two segments: frames 0..5 in the first (one run), 6..7 in the second (the next run). */
static void two_segments(struct fixture *f, uint32_t len)
{
	struct spool *sp = spool_open_ok(f, 64ull << 20);

	for (uint32_t i = 0; i < 6; i++)
		append_ok(sp, f, i, len);
	spool_close(sp);
	sp = spool_open_ok(f, 64ull << 20);
	append_ok(sp, f, 6, len);
	append_ok(sp, f, 7, len);
	spool_close(sp);
	assert_int_equal(segment_count(f->dir), 2);
}

static void test_spool_corrupt_body_skips_segment(void **state)
{
	struct fixture *f = *state;
	const uint32_t len = 5000;
	char path[512];
	struct spool *sp;

	two_segments(f, len);
	segment_path(f->dir, 0, path, sizeof(path));
	byte_flip(path, frame_offset(path, 2) + SPOOL_HDR_BYTES + 7);

	sp = spool_open_ok(f, 64ull << 20);
	frame_expect(sp, 0, len);
	frame_expect(sp, 1, len);
	/* Frame 2 fails its CRC: counted, and 3..5 behind it are skipped with it. */
	frame_expect(sp, 6, len);
	assert_int_equal(spool_corrupt_frames(sp), 1);
	frame_expect(sp, 7, len);
	assert_true(spool_empty(sp));
	assert_int_equal(segment_count(f->dir), 0);
	spool_close(sp);
}

static void test_spool_corrupt_header(void **state)
{
	struct fixture *f = *state;
	const uint32_t len = 5000;
	char path[512];
	struct spool *sp;

	two_segments(f, len);
	segment_path(f->dir, 0, path, sizeof(path));
	byte_flip(path, frame_offset(path, 4) + 1); /* the magic */

	sp = spool_open_ok(f, 64ull << 20);
	for (uint32_t i = 0; i < 4; i++)
		frame_expect(sp, i, len);
	frame_expect(sp, 6, len);
	frame_expect(sp, 7, len);
	assert_int_equal(spool_corrupt_frames(sp), 1);
	assert_true(spool_empty(sp));
	spool_close(sp);
}

static void test_spool_truncated_segment(void **state)
{
	struct fixture *f = *state;
	const uint32_t len = 5000;
	char path[512];
	struct spool *sp;
	off_t last;

	two_segments(f, len);
	segment_path(f->dir, 0, path, sizeof(path));
	last = frame_offset(path, 5);
	assert_int_equal(truncate(path, last + 30), 0); /* frame 5 cut inside its bytes */

	sp = spool_open_ok(f, 64ull << 20);
	for (uint32_t i = 0; i < 5; i++)
		frame_expect(sp, i, len);
	frame_expect(sp, 6, len);
	frame_expect(sp, 7, len);
	assert_int_equal(spool_corrupt_frames(sp), 1);
	assert_true(spool_empty(sp));
	spool_close(sp);

	/* Cut inside a header: the same. */
	two_segments(f, len);
	segment_path(f->dir, 0, path, sizeof(path));
	assert_int_equal(truncate(path, frame_offset(path, 3) + 5), 0);
	sp = spool_open_ok(f, 64ull << 20);
	for (uint32_t i = 0; i < 3; i++)
		frame_expect(sp, i, len);
	frame_expect(sp, 6, len);
	frame_expect(sp, 7, len);
	assert_int_equal(spool_corrupt_frames(sp), 1);
	spool_close(sp);
}

static void test_spool_trim_and_prepend(void **state)
{
	struct fixture *f = *state;
	struct spool *sp = spool_open_ok(f, 1 << 20);
	char want[1000];
	const char *data;
	uint32_t len;

	append_ok(sp, f, 1, 1000);
	append_ok(sp, f, 2, 1000);
	frame_fill(want, 1, 1000);

	/* 300 bytes of frame 1 went out: what is left is first in line, and stays so across a
	 * restart. */
	assert_int_equal(spool_peek(sp, &data, &len), 0);
	assert_int_equal(spool_trim_head(sp, 0), -EINVAL);
	assert_int_equal(spool_trim_head(sp, 1000), -EINVAL);
	assert_int_equal(spool_trim_head(sp, 300), 0);
	spool_close(sp);
	sp = spool_open_ok(f, 1 << 20);
	assert_int_equal(spool_peek(sp, &data, &len), 0);
	assert_int_equal(len, 700);
	assert_memory_equal(data, want + 300, 700);

	/* A prepended frame goes before it (and drops the view). */
	assert_int_equal(spool_prepend(sp, "first\n", 6), 0);
	assert_int_equal(spool_peek(sp, &data, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(data, "first\n", 6);
	assert_int_equal(spool_consume(sp), 0);
	assert_int_equal(spool_peek(sp, &data, &len), 0);
	assert_int_equal(len, 700);
	assert_memory_equal(data, want + 300, 700);
	assert_int_equal(spool_consume(sp), 0);
	frame_expect(sp, 2, 1000);
	assert_true(spool_empty(sp));
	assert_int_equal(segment_count(f->dir), 0);

	/* Prepend on an empty spool is an append; trim of the only frame in the write segment. */
	assert_int_equal(spool_prepend(sp, "only\n", 5), 0);
	append_ok(sp, f, 3, 1000);
	assert_int_equal(spool_peek(sp, &data, &len), 0);
	assert_memory_equal(data, "only\n", 5);
	assert_int_equal(spool_trim_head(sp, 2), 0);
	assert_int_equal(spool_peek(sp, &data, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "ly\n", 3);
	assert_int_equal(spool_consume(sp), 0);
	frame_expect(sp, 3, 1000);
	assert_true(spool_empty(sp));
	assert_int_equal(spool_bytes(sp), 0);
	spool_close(sp);
}

static void test_spool_dir_locked(void **state)
{
	struct fixture *f = *state;
	struct spool *sp = spool_open_ok(f, 1 << 20), *sp2;

	assert_int_equal(spool_open(&sp2, f->dir, 1 << 20, 1024, f->err, sizeof(f->err)), -EBUSY);
	assert_null(sp2);
	assert_non_null(strstr(f->err, f->dir));
	spool_close(sp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spool_fresh_dir, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spool_order_across_segments, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spool_peek_is_stable, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spool_reopen_picks_up_leftovers, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spool_cap_drops, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spool_corrupt_body_skips_segment,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spool_corrupt_header, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spool_truncated_segment, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spool_trim_and_prepend, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_spool_dir_locked, fixture_setup,
						fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
