/*
 * Drives the protocol engine without the runtime, for the parser fuzz targets and the
 * parser benchmark: a real protocol engine writing to /dev/null
 * through the real output, one connection, and an input format that lets the fuzzer
 * choose the direction and cut of every chunk:
 *   repeated { u8 control; u16 length (LE); bytes }  control bit 0 = direction,
 *   bit 1 = a gap of `length` bytes instead of data.
 * The connection's server port selects the protocol's tie-break port.
 */
#ifndef WIREWATCH_ENGINE_HARNESS_H
#define WIREWATCH_ENGINE_HARNESS_H

#include <stddef.h>
#include <stdint.h>

int engine_harness_run(const uint8_t *data, size_t size, uint16_t server_port);

#endif
