/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The guest memory fault guard: riovd survives a SIGBUS raised by a front-end's file that shrank
 * (or whose huge page could not be allocated) under a mapping of guest memory.
 *
 * riovd installs the process-wide SIGBUS handler once at start; guest_mem.c registers every
 * region it maps (vmm internal: guest_mem_internal.h). A SIGBUS inside a registered region replaces
 * that region's mapping in place with anonymous zero memory, so the faulting access completes,
 * and wakes the owning device (its eventfd), which drops the session on the control thread. A
 * SIGBUS anywhere else is riovd's own bug: it goes to the handler installed before (if any) or
 * kills the process as it would have without the guard.
 *
 * Thread rules: riov_guest_fault_install from the control thread before workers start.
 */
#ifndef RIOV_VMM_GUEST_FAULT_H
#define RIOV_VMM_GUEST_FAULT_H

#include <stdint.h>

/** Install the SIGBUS handler (once per process; later calls do nothing). The handler installed
 *  before, if any, gets the faults outside guest memory. Returns 0 or -errno (sigaction). */
int riov_guest_fault_install(void);

/** Guest memory faults survived since start (every device). */
uint64_t riov_guest_fault_total(void);

#endif
