/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer: bytes as a stream of RPC frames; each frame's payload decoded as the request and
 * response type of the method it names (proto/frame.c riov_frame_fuzz_one). */
#include <stddef.h>
#include <stdint.h>

#include "proto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return riov_frame_fuzz_one(data, size);
}
