/* libFuzzer: any byte string escapes to a JSON string that is valid, bounded and complete. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t need = json_escaped_len((const char *)data, size) + 2;
	char *buf = malloc(need);
	struct json_writer w;

	json_init(&w, buf, need);
	json_string(&w, (const char *)data, size);
	if (w.overflow || w.len != need || buf[0] != '"' || buf[need - 1] != '"')
		abort();
	for (size_t i = 0; i < need; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			abort();
	/* one byte short must overflow without writing past the end */
	json_init(&w, buf, need - 1);
	json_string(&w, (const char *)data, size);
	if (!w.overflow || w.len > need - 1)
		abort();
	free(buf);
	return 0;
}
