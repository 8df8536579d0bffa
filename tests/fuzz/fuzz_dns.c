/* libFuzzer: the DNS parser (UDP-style and TCP length-prefixed) through the real engine
 * (see engine_harness.h); answers also feed the DNS cache. */
#include "tests/lib/engine_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return engine_harness_run(data, size, 53);
}
