/*
 * Process table: container ids from /proc/PID/cgroup lines of each runtime and cgroup
 * driver, /proc/PID/stat and cmdline parsing, the startup scan over a fake /proc, the
 * kernel events (fork inherits, exec replaces, exit keeps the entry PROC_KEEP_EXITED_NS),
 * the capacity bound, and lock-free readers racing the writer (the ASan build catches an
 * entry freed while a reader still holds it).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>
#include <cmocka.h>

#include "bpf/proc_table.h"

#define ID_A "4f0c2a8e9b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a29180716253443526170819a"
#define ID_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SEC  1000000000ull

static const struct {
	const char *text;
	const char *id; /* NULL: no container */
	const char *runtime;
} cgroup_cases[] = {
	/* docker, systemd driver, cgroup v2 */
	{"0::/system.slice/docker-" ID_A ".scope\n", ID_A, "docker"},
	/* docker, cgroupfs driver, cgroup v1 (several hierarchies, the id on each) */
	{"12:pids:/docker/" ID_A "\n11:memory:/docker/" ID_A "\n0::/\n", ID_A, "docker"},
	/* containerd under Kubernetes, systemd driver */
	{"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_"
	 "9c0d_1e2f3a4b5c6d.slice/cri-containerd-" ID_B ".scope\n",
	 ID_B, "containerd"},
	/* Kubernetes, cgroupfs driver: runtime not named in the path */
	{"0::/kubepods/besteffort/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/" ID_B "\n", ID_B,
	 "kubepods"},
	/* cri-o */
	{"0::/kubepods.slice/kubepods-pod1.slice/crio-" ID_A ".scope\n", ID_A, "crio"},
	/* cri-o's monitor is not the container */
	{"0::/kubepods.slice/kubepods-pod1.slice/crio-conmon-" ID_A ".scope\n", NULL, NULL},
	/* podman, systemd driver, a process in a nested cgroup inside the container */
	{"0::/machine.slice/libpod-" ID_B ".scope/container\n", ID_B, "podman"},
	/* podman, cgroupfs driver */
	{"0::/libpod_parent/libpod-" ID_B "\n", ID_B, "podman"},
	{"0::/machine.slice/libpod-conmon-" ID_B ".scope\n", NULL, NULL},
	/* not containers: a user session, a service, the root, a 32-digit id */
	{"0::/user.slice/user-1000.slice/session-3.scope\n", NULL, NULL},
	{"0::/system.slice/nginx.service\n", NULL, NULL},
	{"0::/\n", NULL, NULL},
	{"4:memory:/process_api/13934ac3d07ff611f066eec3839538f7\n0::/\n", NULL, NULL},
	/* an id one digit short, a non-hex digit */
	{"0::/system.slice/docker-4f0c2a8e9b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a29180716253443526170819"
	 ".scope\n",
	 NULL, NULL},
	{"0::/system.slice/docker-4f0c2a8e9b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a29180716253443526170819"
	 "g.scope\n",
	 NULL, NULL},
	/* a bare leaf name, as the kernel sends it when the process is already gone */
	{"docker-" ID_A ".scope", ID_A, "docker"},
	/* no trailing newline, empty text */
	{"0::/docker/" ID_B, ID_B, "docker"},
	{"", NULL, NULL},
};

static void test_cgroup_container(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cgroup_cases) / sizeof(cgroup_cases[0]); i++) {
		char id[PROC_CONTAINER_LEN] = "unset", rt[PROC_RUNTIME_LEN] = "unset";
		bool found =
			proc_cgroup_container(cgroup_cases[i].text, strlen(cgroup_cases[i].text),
					      id, sizeof(id), rt, sizeof(rt));

		if (found != (cgroup_cases[i].id != NULL))
			fail_msg("case %zu (%s): found %d", i, cgroup_cases[i].text, found);
		if (found) {
			assert_string_equal(id, cgroup_cases[i].id);
			assert_string_equal(rt, cgroup_cases[i].runtime);
		}
	}
}

static void test_stat_parse(void **state)
{
	/* a comm may hold spaces and parentheses: the last ')' ends it */
	static const char stat[] =
		"4242 (my (odd) prog) S 77 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
		"123456 1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
	char comm[PROC_COMM_LEN];
	uint64_t ticks = 0;
	uint32_t ppid = 0;

	(void)state;
	assert_int_equal(proc_stat_parse(stat, strlen(stat), comm, sizeof(comm), &ppid, &ticks), 0);
	assert_string_equal(comm, "my (odd) prog");
	assert_int_equal(ppid, 77);
	assert_int_equal(ticks, 123456);
	assert_int_equal(proc_stat_parse("4242 (x S 1", 11, comm, sizeof(comm), &ppid, &ticks),
			 -EINVAL);
	assert_int_equal(proc_stat_parse("1 (x) S 1 2", 11, comm, sizeof(comm), &ppid, &ticks),
			 -EINVAL);
}

static void test_cmdline_join(void **state)
{
	char out[8];

	(void)state;
	assert_false(proc_cmdline_join("ls\0-l\0", 7, out, sizeof(out)));
	assert_string_equal(out, "ls -l");
	assert_true(proc_cmdline_join("python3\0x.py\0", 13, out, sizeof(out)));
	assert_string_equal(out, "python3");
	assert_false(proc_cmdline_join("", 0, out, sizeof(out)));
	assert_string_equal(out, "");
}

/* ---- a fake /proc ---- */

static char proc_dir[64];

static void write_file(const char *pid, const char *name, const char *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", proc_dir, pid, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void fake_process(const char *pid, const char *stat, const char *cmdline, size_t cmd_len,
			 const char *uids, const char *cgroup, const char *exe)
{
	char path[256], status[128];

	snprintf(path, sizeof(path), "%s/%s", proc_dir, pid);
	assert_int_equal(mkdir(path, 0755), 0);
	write_file(pid, "stat", stat, strlen(stat));
	write_file(pid, "cmdline", cmdline, cmd_len);
	snprintf(status, sizeof(status), "Name:\tx\nState:\tS\nUid:\t%s\nGid:\t0\t0\t0\t0\n", uids);
	write_file(pid, "status", status, strlen(status));
	write_file(pid, "cgroup", cgroup, strlen(cgroup));
	if (exe) {
		snprintf(path, sizeof(path), "%s/%s/exe", proc_dir, pid);
		assert_int_equal(symlink(exe, path), 0);
	}
}

static int setup_fake_proc(void **state)
{
	char path[256];

	(void)state;
	snprintf(proc_dir, sizeof(proc_dir), "/tmp/ww_proc_XXXXXX");
	assert_non_null(mkdtemp(proc_dir));
	fake_process(
		"100", "100 (postgres) S 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0 0\n",
		"postgres\0-D\0/var/lib/pg\0", 24, "999\t999\t999\t999",
		"0::/system.slice/docker-" ID_A ".scope\n", "/usr/lib/postgresql/bin/postgres");
	fake_process("200", "200 (bash) S 100 200 200 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 700 0 0 0\n",
		     "bash\0", 5, "1000\t0\t0\t0", "0::/user.slice\n", "/usr/bin/bash");
	/* a kernel thread: no cmdline, no exe */
	fake_process("2", "2 (kthreadd) S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 0\n", "", 0,
		     "0\t0\t0\t0", "0::/\n", NULL);
	/* not processes: skipped */
	snprintf(path, sizeof(path), "%s/self", proc_dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/300", proc_dir); /* vanished: no stat */
	assert_int_equal(mkdir(path, 0755), 0);
	return 0;
}

static int teardown_fake_proc(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", proc_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_scan(void **state)
{
	struct proc_info p;
	long tck = sysconf(_SC_CLK_TCK);

	(void)state;
	proc_table_destroy(); /* one a failed test left behind */
	assert_int_equal(proc_table_init(proc_dir, 0), 0);
	assert_int_equal(proc_table_init(proc_dir, 0), -EBUSY); /* one table */
	assert_int_equal(proc_table_scan(), 3);
	assert_int_equal(proc_table_count(), 3);
	assert_true(proc_table_get(100, &p));
	assert_int_equal(p.pid, 100);
	assert_int_equal(p.ppid, 1);
	assert_int_equal(p.uid, 999);
	assert_string_equal(p.comm, "postgres");
	assert_string_equal(p.exe, "/usr/lib/postgresql/bin/postgres");
	assert_string_equal(p.cmdline, "postgres -D /var/lib/pg");
	assert_string_equal(p.container, ID_A);
	assert_string_equal(p.container_runtime, "docker");
	assert_int_equal(p.source, PROC_FROM_SCAN);
	assert_int_equal(p.exit_ns, 0);
	assert_true(p.start_ns > 0);
	assert_true(proc_table_get(200, &p));
	assert_int_equal(p.uid, 1000);
	assert_int_equal(p.euid, 0);
	assert_string_equal(p.container, "");
	/* start times keep their distance: 200 ticks apart */
	{
		struct proc_info a, b;

		assert_true(proc_table_get(100, &a));
		assert_true(proc_table_get(200, &b));
		uint64_t d = b.start_ns - a.start_ns, want = 200ull * (SEC / (uint64_t)tck);

		/* each conversion reads the clocks' offset again: equal to within a millisecond */
		assert_true(d > want - SEC / 1000 && d < want + SEC / 1000);
	}
	assert_true(proc_table_get(2, &p));
	assert_string_equal(p.exe, "");
	assert_string_equal(p.cmdline, "");
	assert_false(proc_table_get(300, &p));
	assert_false(proc_table_get(0, &p));
	proc_table_destroy();
	/* no table: lookups answer NULL, sections are harmless */
	proc_table_read_begin();
	assert_null(proc_table_lookup(100));
	proc_table_read_end();
}

static struct ww_proc_event event(uint8_t kind, uint32_t pid, uint32_t ppid, const char *comm)
{
	struct ww_proc_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.pid = pid;
	ev.ppid = ppid;
	ev.uid = 1000;
	ev.euid = 1000;
	ev.ts_ns = 50 * SEC;
	ev.start_ns = 40 * SEC;
	ev.cgroup_id = 7;
	snprintf(ev.comm, sizeof(ev.comm), "%s", comm);
	return ev;
}

static void exec_args(struct ww_proc_event *ev, const char *file, const char *argv, size_t len)
{
	snprintf(ev->filename, sizeof(ev->filename), "%s", file);
	memcpy(ev->args, argv, len);
	ev->args_len = (uint16_t)len;
}

static void test_events(void **state)
{
	struct ww_proc_event ev;
	struct proc_info p, parent;
	uint64_t exit_ns;

	(void)state;
	proc_table_destroy(); /* one a failed test left behind */
	assert_int_equal(proc_table_init(proc_dir, 0), 0);
	assert_int_equal(proc_table_scan(), 3);

	/* fork of a known process: its program, container and cmdline are inherited */
	ev = event(WW_PROC_FORK, 5000, 100, "postgres");
	proc_table_apply(&ev);
	assert_true(proc_table_get(5000, &p));
	assert_true(proc_table_get(100, &parent));
	assert_int_equal(p.ppid, 100);
	assert_string_equal(p.exe, parent.exe);
	assert_string_equal(p.cmdline, parent.cmdline);
	assert_string_equal(p.container, ID_A);
	assert_int_equal(p.uid, 1000); /* the event's, not the parent's */
	assert_int_equal(p.cgroup_id, 7);
	assert_int_equal(p.source, PROC_FROM_FORK);

	/* exec: new program; the process (gone from the fake /proc) keeps what execve said;
	 * the container comes from the kernel's cgroup name when /proc has nothing */
	ev = event(WW_PROC_EXEC, 5000, 100, "psql");
	exec_args(&ev, "/usr/bin/psql", "psql\0-h\0db\0", 11);
	snprintf(ev.cgroup, sizeof(ev.cgroup), "docker-%s.scope", ID_B);
	proc_table_apply(&ev);
	assert_true(proc_table_get(5000, &p));
	assert_string_equal(p.comm, "psql");
	assert_string_equal(p.exe, "/usr/bin/psql");
	assert_string_equal(p.cmdline, "psql -h db");
	assert_false(p.cmdline_truncated);
	assert_string_equal(p.container, ID_B);
	assert_int_equal(p.ppid, 100);
	assert_int_equal(p.source, PROC_FROM_EXEC);

	/* truncated argv says so */
	ev = event(WW_PROC_EXEC, 5001, 200, "java");
	exec_args(&ev, "/usr/bin/java", "java\0-jar\0", 10);
	ev.args_truncated = 1;
	proc_table_apply(&ev);
	assert_true(proc_table_get(5001, &p));
	assert_true(p.cmdline_truncated);
	assert_int_equal(p.start_ns > 0, 1);

	/* an exec of a process never seen makes an entry from the event alone */
	ev = event(WW_PROC_EXEC, 6000, 4242, "curl");
	exec_args(&ev, "curl", "curl\0http://x\0", 14);
	proc_table_apply(&ev);
	assert_true(proc_table_get(6000, &p));
	assert_int_equal(p.ppid, 4242);
	assert_string_equal(p.exe, "curl"); /* relative, as given: the process is gone */

	/* exit keeps the entry, marked */
	ev = event(WW_PROC_EXIT, 5000, 100, "psql");
	ev.exit_code = 3 << 8;
	proc_table_apply(&ev);
	assert_true(proc_table_get(5000, &p));
	assert_true(p.exit_ns > 0);
	assert_int_equal(p.exit_code, 3 << 8);
	assert_string_equal(p.exe, "/usr/bin/psql");
	exit_ns = p.exit_ns;
	/* an exit of an unknown process adds nothing */
	ev = event(WW_PROC_EXIT, 7777, 1, "ghost");
	proc_table_apply(&ev);
	assert_false(proc_table_get(7777, &p));

	/* kept PROC_KEEP_EXITED_NS, then removed */
	assert_int_equal(proc_table_count(), 6);
	assert_int_equal(proc_table_expire(exit_ns + PROC_KEEP_EXITED_NS - 1), 0);
	assert_true(proc_table_get(5000, &p));
	assert_int_equal(proc_table_expire(exit_ns + PROC_KEEP_EXITED_NS), 1);
	assert_false(proc_table_get(5000, &p));
	assert_true(proc_table_get(5001, &p)); /* live ones stay */
	assert_int_equal(proc_table_count(), 5);

	/* pid reuse: a fork onto an exited entry gives a fresh live process */
	ev = event(WW_PROC_EXIT, 6000, 4242, "curl");
	proc_table_apply(&ev);
	ev = event(WW_PROC_FORK, 6000, 200, "bash");
	proc_table_apply(&ev);
	assert_true(proc_table_get(6000, &p));
	assert_int_equal(p.exit_ns, 0);
	assert_int_equal(p.ppid, 200);
	assert_string_equal(p.exe, "/usr/bin/bash");
	proc_table_destroy();
}

static void test_capacity(void **state)
{
	struct ww_proc_event ev;
	struct proc_info p;

	(void)state;
	proc_table_destroy(); /* one a failed test left behind */
	assert_int_equal(proc_table_init(proc_dir, 4), 0);
	for (uint32_t pid = 1; pid <= 4; pid++) {
		ev = event(WW_PROC_FORK, pid, 0, "p");
		proc_table_apply(&ev);
	}
	assert_int_equal(proc_table_count(), 4);
	/* full of live processes: a new one is refused, the others stay */
	ev = event(WW_PROC_FORK, 5, 0, "p");
	proc_table_apply(&ev);
	assert_false(proc_table_get(5, &p));
	assert_int_equal(proc_table_count(), 4);
	/* an existing one can still change */
	ev = event(WW_PROC_EXIT, 2, 0, "p");
	proc_table_apply(&ev);
	assert_true(proc_table_get(2, &p));
	/* the exited one makes room early */
	ev = event(WW_PROC_FORK, 5, 0, "p");
	proc_table_apply(&ev);
	assert_true(proc_table_get(5, &p));
	assert_false(proc_table_get(2, &p));
	assert_int_equal(proc_table_count(), 4);
	proc_table_destroy();
}

/* ---- readers racing the writer ---- */

#define RACE_PIDS 8

struct race {
	bool stop;
	uint64_t lookups, found;
	int torn;
};

/*
 * Every entry the writer publishes is consistent: comm "gN" goes with cmdline "gen N" and
 * uid N. A reader that ever sees them disagree read a half-written entry.
 */
static void *race_reader(void *arg)
{
	struct race *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		for (uint32_t pid = 1; pid <= RACE_PIDS; pid++) {
			const struct proc_info *p;
			char want[32];

			proc_table_read_begin();
			p = proc_table_lookup(pid);
			if (p) {
				/* read it all, field by field, the way a record encoder would */
				snprintf(want, sizeof(want), "gen %u", p->uid);
				if (strcmp(p->cmdline, want) != 0 || p->pid != pid ||
				    strcmp(p->exe, "/bin/g") != 0 || p->comm[0] != 'g')
					r->torn++;
				r->found++;
			}
			proc_table_read_end();
			r->lookups++;
		}
	}
	return NULL;
}

static void test_readers_race_writer(void **state)
{
	struct race races[2] = {{0}, {0}};
	pthread_t th[2];
	(void)state;
	proc_table_destroy(); /* one a failed test left behind */
	assert_int_equal(proc_table_init(proc_dir, 0), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race_reader, &races[i]), 0);
	for (uint32_t gen = 1; gen <= 20000; gen++) {
		uint32_t pid = gen % RACE_PIDS + 1;
		struct ww_proc_event ev = event(WW_PROC_EXEC, pid, 1, "g");
		char args[32];
		int n = snprintf(args, sizeof(args), "gen%c%u", 0, gen);

		/* argv "gen\0N": joined "gen N" */
		ev.uid = gen;
		exec_args(&ev, "/bin/g", args, (size_t)n + 1);
		proc_table_apply(&ev);
		if (gen % 7 == 0) {
			/* exits and expiry remove entries under the readers too */
			ev.kind = WW_PROC_EXIT;
			proc_table_apply(&ev);
			proc_table_expire(UINT64_MAX - 1);
		}
	}
	for (int i = 0; i < 2; i++) {
		__atomic_store_n(&races[i].stop, true, __ATOMIC_RELAXED);
		pthread_join(th[i], NULL);
		print_message("reader %d: %llu lookups, %llu found\n", i,
			      (unsigned long long)races[i].lookups,
			      (unsigned long long)races[i].found);
		assert_int_equal(races[i].torn, 0);
		assert_true(races[i].lookups > 0);
	}
	proc_table_destroy();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_container),
		cmocka_unit_test(test_stat_parse),
		cmocka_unit_test(test_cmdline_join),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_readers_race_writer),
	};

	return cmocka_run_group_tests(tests, setup_fake_proc, teardown_fake_proc);
}
