/*
 * What the rest of the program may set on the eBPF source before it opens (main.c, from the
 * command line). The source itself is bpf_source_ops (runtime/sources.c); the process table
 * it feeds is read through bpf/proc_table.h.
 */
#ifndef WIREWATCH_BPF_CAPTURE_H
#define WIREWATCH_BPF_CAPTURE_H

#include <stdint.h>

/*
 * --pid: only this process (tgid) is captured, decided in the kernel (target_tgid), so the
 * other processes' socket syscalls cost one compare. 0 = every process. Call before the
 * source opens; the process table still follows every process.
 */
void bpf_source_set_pid_filter(uint32_t pid);

#endif
