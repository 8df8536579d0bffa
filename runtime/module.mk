# runtime/: main, configuration, sources, readers, rings, workers, output, metrics.
MAIN_SRCS += runtime/main.c
LIB_SRCS += $(filter-out runtime/main.c,$(wildcard runtime/*.c))
