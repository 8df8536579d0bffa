/*
 * `wirewatch pii-scan` as a program of its own, for tests/pii/evaluate.py and for audits on
 * hosts where the daemon is not built; the same entry point runtime/main.c dispatches to.
 *   pii_scan [--config FILE] < lines > findings
 */
#include "pii/pii.h"

int main(int argc, char **argv)
{
	argv[0] = "pii-scan";
	return pii_scan_main(argc, argv);
}
