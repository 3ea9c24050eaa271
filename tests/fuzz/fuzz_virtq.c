/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the split virtqueue device code: the input becomes guest ring memory served
 * by riov_virtq_dequeue/enqueue through a real VT-d domain (see riov_virtq_fuzz_one in
 * dataplane/virtq.c for the layout). Seeds: tests/fuzz/corpus/virtq/ (gen.py).
 */
#include <stddef.h>
#include <stdint.h>

#include "dataplane/virtq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	riov_virtq_fuzz_one(data, size);
	return 0;
}
