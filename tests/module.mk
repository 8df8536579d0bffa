# tests/: cmocka unit tests (one binary per file) and libFuzzer targets.
UNIT_TESTS += $(wildcard tests/unit/test_*.c)
FUZZ_TARGETS += $(wildcard tests/fuzz/fuzz_*.c)
