/*
 * The pcap source's open(): what is refused and how it says so (the runtime exits 2
 * on any open error), and --filter syntax checking. Reading a capture end to end runs
 * in tests/integration/pcap_loopback.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <errno.h>
#include <pcap/pcap.h>

#include "config.h"
#include "source_pcap.h"

static char dir[] = "/tmp/wirewatch-test-pcap-XXXXXX";
static char path[256];

static int try_open(const char *file, char *err, size_t err_len)
{
	struct source src = {.ops = &pcap_source_ops};
	struct config cfg;
	int ret;

	config_defaults(&cfg);
	ret = pcap_source_ops.open(&src, file, &cfg, err, err_len);
	if (ret == 0) {
		assert_int_equal(pcap_source_ops.readers(&src), 1);
		pcap_source_ops.close(&src);
	}
	return ret;
}

/* An empty capture file with link type dlt. */
static void write_capture(const char *file, int dlt)
{
	pcap_t *dead = pcap_open_dead(dlt, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, file);

	assert_non_null(d);
	pcap_dump_close(d);
	pcap_close(dead);
}

static void test_not_a_capture(void **state)
{
	char err[512] = "";
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/junk", dir);
	f = fopen(path, "w");
	fputs("GET / HTTP/1.1\r\n\r\n", f);
	fclose(f);
	assert_int_equal(try_open(path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a pcap or pcapng file"));
	assert_non_null(strstr(err, path));
}

static void test_missing_file(void **state)
{
	char err[512] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/none.pcap", dir);
	assert_int_equal(try_open(path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "none.pcap"));
	assert_true(try_open("", err, sizeof(err)) < 0);
}

static void test_link_types(void **state)
{
	static const int ok[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,
				 DLT_NULL,   DLT_LOOP,	    DLT_IPV4,	    DLT_IPV6};
	char err[512] = "";

	(void)state;
	snprintf(path, sizeof(path), "%s/c.pcap", dir);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		write_capture(path, ok[i]);
		assert_int_equal(try_open(path, err, sizeof(err)), 0);
	}
	write_capture(path, DLT_IEEE802_11);
	assert_int_equal(try_open(path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not supported"));
}

static void test_filter(void **state)
{
	char err[512] = "";

	(void)state;
	assert_int_equal(pcap_source_set_filter("tcp port 5432 or udp port 53"), 0);
	snprintf(path, sizeof(path), "%s/c.pcap", dir);
	write_capture(path, DLT_EN10MB);
	assert_int_equal(try_open(path, err, sizeof(err)), 0);
	assert_int_equal(pcap_source_set_filter("tcp prot 5432"), -EINVAL);
	assert_int_equal(pcap_source_set_filter("wlan addr1 00:11:22:33:44:55"), -EINVAL);
	/* parses for Linux cooked captures only: accepted, refused when opening Ethernet */
	assert_int_equal(pcap_source_set_filter("inbound and tcp"), 0);
	assert_int_equal(try_open(path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--filter 'inbound and tcp'"));
	write_capture(path, DLT_LINUX_SLL2);
	assert_int_equal(try_open(path, err, sizeof(err)), 0);
	assert_int_equal(pcap_source_set_filter(NULL), 0);
	assert_int_equal(try_open(path, err, sizeof(err)), 0);
}

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_a_capture),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_link_types),
		cmocka_unit_test(test_filter),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
