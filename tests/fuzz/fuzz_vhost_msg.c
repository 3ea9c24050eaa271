/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer wrapper: a byte stream as vhost-user messages into a real device (vmm/vhost.c
 * riov_vhost_fuzz_one documents the input format). */
#include <stddef.h>
#include <stdint.h>

#include "common/log.h"
#include "vmm/vhost.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	riov_log_set_level(RIOV_LOG_ERR);   /* guest-triggered warnings would drown the output */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return riov_vhost_fuzz_one(data, size);
}
