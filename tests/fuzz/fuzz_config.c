/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer harness: riovd's start-up configuration parser. */
#include <stddef.h>
#include <stdint.h>

#include "control/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return riov_config_fuzz_one(data, size);
}
