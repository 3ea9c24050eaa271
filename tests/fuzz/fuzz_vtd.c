/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer harness for the VT-d model: programming ops, raw tables, translate and raise. */
#include <stddef.h>
#include <stdint.h>

#include "iommu/vtd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return riov_vtd_fuzz_one(data, size);
}
