/* libFuzzer: the configuration loader on any file content either loads or names the problem. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct config cfg;
	char err[512];
	FILE *f;

	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/fuzz_config.%d.yaml", (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	config_defaults(&cfg);
	err[0] = '\0';
	if (config_load(&cfg, path, err, sizeof(err)) < 0 && (!err[0] || !strchr(err, ':')))
		abort(); /* every refusal must say where */
	return 0;
}
