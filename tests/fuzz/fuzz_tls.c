/* libFuzzer: the TLS handshake parser through the real engine (see engine_harness.h). */
#include "tests/lib/engine_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return engine_harness_run(data, size, 443);
}
