/* libFuzzer: the MySQL/MariaDB parser through the real engine (see fuzz_parsers.h). */
#include "fuzz_parsers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_parsers_run(data, size, 3306);
}
