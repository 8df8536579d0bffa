# parsers/: the parser interface, the registry and one file per protocol.
LIB_SRCS += $(wildcard parsers/*.c)
