/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the RPC frame codec (proto/frame.c): the input is a byte stream of frames;
 * each frame is decoded and, when it names a catalog method, its payload is unpacked as that
 * method's request and response types; what decodes is encoded again. The unit test
 * tests/unit/proto/test_frame.c runs riov_frame_fuzz_one() on a real frame too.
 *
 * Security model: the input is arbitrary bytes, as a peer's stream would be. The codec must not
 * crash, leak or read outside the input; a partial frame ends the stream as a reader would wait.
 *
 * Thread rules: one thread.
 */
#include <stdint.h>
#include <stdlib.h>

#include "proto/frame.h"
#include "tests/fuzz/fuzz_entry.h"

/* A decoded frame naming catalog method m: its payload as the request (which must re-encode) and
 * as the response type. */
static void fuzz_payload(const struct riov_method *m, const Riov__V1__Frame *f)
{
	ProtobufCMessage *req = protobuf_c_message_unpack(m->req, NULL, f->payload.len,
							  f->payload.data);
	if (req) {
		/* Round trip: what decodes must re-encode. */
		uint8_t *p = NULL;
		size_t plen = 0;
		if (riov_msg_pack(req, SIZE_MAX, &p, &plen) == 0)
			free(p);
		protobuf_c_message_free_unpacked(req, NULL);
	}
	ProtobufCMessage *resp = protobuf_c_message_unpack(m->resp, NULL, f->payload.len,
							   f->payload.data);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
}

int riov_frame_fuzz_one(const uint8_t *data, size_t size)
{
	size_t off = 0;
	int frames = 0;
	/* Use a small maximum so the fuzzer reaches the oversize path as well as real frames. */
	const size_t max = 64 * 1024;
	while (off < size) {
		size_t body = 0;
		int rc = riov_frame_check_header(data + off, size - off, max, &body);
		if (rc <= 0)
			break;
		off += RIOV_FRAME_HDR_LEN;
		if (body > size - off)
			break; /* partial frame: a reader would wait for more */
		Riov__V1__Frame *f = NULL;
		if (riov_frame_decode(data + off, body, &f) == 0) {
			frames++;
			const struct riov_method *m = riov_method_find(f->method);
			if (m)
				fuzz_payload(m, f);
			uint8_t *enc = NULL;
			size_t enclen = 0;
			if (riov_frame_encode(f, SIZE_MAX, &enc, &enclen) == 0)
				free(enc);
			riov_frame_free(f);
		}
		off += body;
	}
	return frames;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	riov_frame_fuzz_one(data, size);
	return 0;
}
