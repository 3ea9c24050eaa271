/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fuzz entry points of the harnesses in tests/fuzz/, for the unit tests that replay seeds and
 * kept crashers through them in ordinary builds (a unit test compiles the harness's .c beside its
 * own; LLVMFuzzerTestOneInput is then just an unused function). Each takes arbitrary bytes in the
 * input format its harness documents. Those whose result says what the input did return it, so that
 * a unit test can tell a run that exercised the code from one that did nothing; the others return
 * 0. Any crash, hang, sanitizer report or abort() is a bug in the code under test.
 *
 * Thread rules: one thread (the fuzzer's or the test's).
 */
#ifndef RIOV_TESTS_FUZZ_ENTRY_H
#define RIOV_TESTS_FUZZ_ENTRY_H

#include <stddef.h>
#include <stdint.h>

/** fuzz_vtd.c: VT-d programming, raw tables and IRTEs, translations and interrupts. Returns 0. */
int riov_vtd_fuzz_one(const uint8_t *data, size_t size);
/** fuzz_virtq.c: split rings in fuzz-controlled guest memory, served through a real VT-d domain
 *  (sets up EAL, a mempool and the unit on first use). Returns how many packets moved (guest TX
 *  taken plus guest RX delivered), or -1 if that set-up failed. */
int riov_virtq_fuzz_one(const uint8_t *data, size_t size);
/** fuzz_frame.c: a byte stream of RPC frames, each payload decoded as its method's types.
 *  Returns how many whole frames decoded. */
int riov_frame_fuzz_one(const uint8_t *data, size_t size);
/** fuzz_vhost_msg.c: vhost-user messages with descriptors into a fresh device on a fresh VT-d
 *  unit (aborts if a handler stops vrings beyond its VU_MESSAGES row). Returns 0. */
int riov_vhost_fuzz_one(const uint8_t *data, size_t size);
/** fuzz_rpc_requests.c: one request through the RPC server's dispatch path. Returns 0. */
int riov_rpc_fuzz_request(const uint8_t *data, size_t size);

/** fuzz_vxlan.c: a frame from the uplink through the VXLAN parser, and the same bytes as an inner
 *  frame encapsulated and parsed back (sets up EAL and two mempools on first use). Returns the
 *  parser's verdict (enum riov_vxlan_verdict), or -1 if that set-up failed. */
int riov_vxlan_fuzz_one(const uint8_t *data, size_t size);

/** fuzz_gro.c: a burst of frames from an uplink through receive coalescing, every output checked
 *  (sets up EAL and two mempools on first use). Returns how many frames were merged, or -1 if
 *  that set-up failed. */
int riov_gro_fuzz_one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
