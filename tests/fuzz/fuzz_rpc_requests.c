/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer: data[0] picks a method and role, the rest is its request payload, run through the
 * RPC server's dispatch path (control/rpc_server.c riov_rpc_fuzz_request): role check, unpack
 * with the registered descriptor, handler, answer packing. */
#include <stddef.h>
#include <stdint.h>

#include "control/rpc_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return riov_rpc_fuzz_request(data, size);
}
