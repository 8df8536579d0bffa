# pii/: rule catalog, Hyperscan matching, validators, scoring.
LIB_SRCS += $(wildcard pii/*.c)
