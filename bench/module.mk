# bench/: programs that print throughput figures (never asserted).
BENCH_SRCS += $(wildcard bench/*.c)
