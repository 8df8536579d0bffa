/*
 * wirewatch: what eBPF (or a packet tap) sees on a host's sockets, turned into
 * query-level security events, one NDJSON record per query, API call or connection.
 * This file is the command line (DESIGN section 4); runtime.c is the pipeline.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/capture.h"
#include "config.h"
#include "pii/pii.h"
#include "runtime.h"
#include "source_iface.h"
#include "source_pcap.h"

#ifndef WIREWATCH_VERSION
#define WIREWATCH_VERSION "0.0.0"
#endif

#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: wirewatch [OPTIONS]\n"
	"       wirewatch --check-config FILE\n"
	"       wirewatch pii-scan [--config FILE] < lines > findings\n"
	"\n"
	"Captures what processes send and receive on their sockets and writes one NDJSON\n"
	"record per query, API call or connection.\n"
	"\n"
	"  -c, --config FILE        YAML configuration (default: built-in values, as in\n"
	"                           config/wirewatch.yaml)\n"
	"  -s, --source SPEC        where chunks come from:\n"
	"                             bpf             this host's sockets via eBPF (default; "
	"root)\n"
	"                             synth[:conns=N,rate=R,exchanges=N,count=N,readers=N,mix=M]\n"
	"                             replay:FILE     a recording made with --record\n"
	"                             pcap:FILE       a pcap or pcapng capture (TCP reassembled)\n"
	"                             iface:NAME      live capture on an interface (root)\n"
	"  -o, --output SINK        stdout | file:PATH | tcp:HOST:PORT | unix:PATH\n"
	"  -w, --workers N          worker shards (default: one per CPU)\n"
	"  -r, --record FILE        also record every chunk to FILE (replay:FILE plays it back)\n"
	"  -d, --duration SECONDS   stop after this long (default: until SIGINT/SIGTERM)\n"
	"  -p, --pid PID            only connections of this process\n"
	"  -P, --port PORT          only connections with this port on either end\n"
	"  -m, --metrics HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics\n"
	"  -R, --redact MODE        pii (default) | literals | none\n"
	"      --filter EXPR        packet sources: BPF filter expression (pcap-filter(7))\n"
	"      --progress           packet sources: progress on stderr each second, summary\n"
	"      --check-config FILE  validate a configuration file and exit\n"
	"  -h, --help               this text\n"
	"  -V, --version            the version\n"
	"\n"
	"Exit codes: 0 done, 1 runtime failure, 2 bad usage or configuration.\n"
	"SIGHUP reopens a file: output (log rotation); SIGINT/SIGTERM drain and stop.\n";

enum { OPT_CHECK_CONFIG = 256, OPT_FILTER, OPT_PROGRESS };

static const struct option long_options[] = {
	{"config", required_argument, NULL, 'c'},
	{"source", required_argument, NULL, 's'},
	{"output", required_argument, NULL, 'o'},
	{"workers", required_argument, NULL, 'w'},
	{"record", required_argument, NULL, 'r'},
	{"duration", required_argument, NULL, 'd'},
	{"pid", required_argument, NULL, 'p'},
	{"port", required_argument, NULL, 'P'},
	{"metrics", required_argument, NULL, 'm'},
	{"redact", required_argument, NULL, 'R'},
	{"check-config", required_argument, NULL, OPT_CHECK_CONFIG},
	{"filter", required_argument, NULL, OPT_FILTER},
	{"progress", no_argument, NULL, OPT_PROGRESS},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

struct cli {
	const char *config_path;
	const char *output;
	const char *metrics;
	const char *redact;
	long workers;
	struct runtime_options run;
};

static int usage_error(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "wirewatch: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\nTry 'wirewatch --help'.\n");
	return EXIT_USAGE;
}

/* A whole decimal number in [min, max], or -1. */
static long long parse_number(const char *s, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	return v;
}

static int check_config(const char *path)
{
	struct config cfg;
	char err[512];

	config_defaults(&cfg);
	if (config_load(&cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "wirewatch: %s\n", err);
		return EXIT_USAGE;
	}
	printf("%s: ok\n", path);
	return 0;
}

static int parse_cli(int argc, char **argv, struct cli *cli)
{
	int opt;
	long long v;

	*cli = (struct cli){.workers = -1, .run = {.source_spec = "bpf"}};
	while ((opt = getopt_long(argc, argv, "c:s:o:w:r:d:p:P:m:R:hV", long_options, NULL)) !=
	       -1) {
		switch (opt) {
		case 'c':
			cli->config_path = optarg;
			break;
		case 's':
			cli->run.source_spec = optarg;
			break;
		case 'o':
			cli->output = optarg;
			break;
		case 'w':
			if ((v = parse_number(optarg, 1, 1024)) < 0)
				return usage_error("--workers '%s': expected 1..1024%s", optarg,
						   "");
			cli->workers = (long)v;
			break;
		case 'r':
			cli->run.record_path = optarg;
			break;
		case 'd':
			if ((v = parse_number(optarg, 1, 365LL * 86400)) < 0)
				return usage_error("--duration '%s': expected whole seconds >= 1%s",
						   optarg, "");
			cli->run.duration_ns = (uint64_t)v * 1000000000ull;
			break;
		case 'p':
			if ((v = parse_number(optarg, 1, 4194304)) < 0)
				return usage_error("--pid '%s': expected a process id%s", optarg,
						   "");
			cli->run.filter_pid = (uint32_t)v;
			break;
		case 'P':
			if ((v = parse_number(optarg, 1, 65535)) < 0)
				return usage_error("--port '%s': expected 1..65535%s", optarg, "");
			cli->run.filter_port = (uint32_t)v;
			break;
		case 'm':
			cli->metrics = optarg;
			break;
		case 'R':
			cli->redact = optarg;
			break;
		case OPT_FILTER:
			if (pcap_source_set_filter(optarg) < 0 || /* each prints its message */
			    iface_source_set_filter(optarg) < 0)
				return EXIT_USAGE;
			break;
		case OPT_PROGRESS:
			pcap_source_set_progress(true);
			break;
		case OPT_CHECK_CONFIG:
			exit(check_config(optarg));
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("wirewatch %s\n", WIREWATCH_VERSION);
			exit(0);
		default:
			fprintf(stderr, "Try 'wirewatch --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'%s", argv[optind], "");
	return 0;
}

/* Command-line values win over the configuration file. */
static int apply_cli(struct config *cfg, const struct cli *cli)
{
	char err[512];

	if (cli->output) {
		if (config_parse_output(cli->output, err, sizeof(err)) < 0)
			return usage_error("--output: %s%s", err, "");
		snprintf(cfg->output, sizeof(cfg->output), "%s", cli->output);
	}
	if (cli->metrics)
		snprintf(cfg->metrics, sizeof(cfg->metrics), "%s", cli->metrics);
	if (cli->redact && config_parse_redact(cli->redact, &cfg->redact) < 0)
		return usage_error("--redact '%s': expected pii, literals or none%s", cli->redact,
				   "");
	if (cli->workers > 0)
		cfg->workers = (uint32_t)cli->workers;
	return 0;
}

int main(int argc, char **argv)
{
	struct runtime *rt;
	struct config cfg;
	struct cli cli;
	char err[1024];
	int ret;

	if (argc > 1 && strcmp(argv[1], "pii-scan") == 0)
		return pii_scan_main(argc - 1, argv + 1);
	ret = parse_cli(argc, argv, &cli);
	if (ret)
		return ret;
	config_defaults(&cfg);
	if (cli.config_path && config_load(&cfg, cli.config_path, err, sizeof(err)) < 0) {
		fprintf(stderr, "wirewatch: %s\n", err);
		return EXIT_USAGE;
	}
	ret = apply_cli(&cfg, &cli);
	if (ret)
		return ret;
	bpf_source_set_pid_filter(cli.run.filter_pid); /* --pid applied in the kernel too */
	ret = runtime_create(&rt, &cfg, &cli.run, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "wirewatch: %s\n", err);
		return ret == -EINVAL || ret == -ENOMEM || ret == -ENOENT ? EXIT_USAGE : 1;
	}
	ret = runtime_run(rt);
	runtime_destroy(rt);
	return ret;
}
