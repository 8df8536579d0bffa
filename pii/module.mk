# pii/: rule catalog, Hyperscan matching, validators, scoring.
LIB_SRCS += $(wildcard pii/*.c)
# Hyperscan API from libvectorscan-dev (see pii/README.md), the public suffix list, and
# jansson for the pii-scan command's input.
LDLIBS += -lhs -lpsl -ljansson
