# tests/: cmocka unit tests (one binary per file) and libFuzzer targets.
UNIT_TESTS += $(wildcard tests/unit/test_*.c)
FUZZ_TARGETS += $(wildcard tests/fuzz/fuzz_*.c)

# Tools the tests run: linked with the library like the daemon.
TOOL_SRCS += tests/tools/fixture_to_wwr.c
TOOL_SRCS += tests/tools/pcap_mangle.c
TOOL_SRCS += tests/tools/udp_to_wwr.c
