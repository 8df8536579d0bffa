# pii/: rule catalog, Hyperscan matching, validators, scoring.
LIB_SRCS += $(wildcard pii/*.c)
# Hyperscan from libhyperscan-dev (see pii/README.md), PCRE2 to read which bytes a pattern
# can begin with (field_dbs.c), the public suffix list, and jansson for the pii-scan
# command's input.
LDLIBS += -lhs -lpcre2-8 -lpsl -ljansson
