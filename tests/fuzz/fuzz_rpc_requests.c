/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the RPC server's dispatch path (control/rpc_server.c rpc_dispatch, reached
 * through control/rpc_server_internal.h): role check, unpack with the registered descriptor,
 * handler, answer packing, as for a frame read from a connection. The unit test
 * tests/unit/control/test_rpc_dispatch.c runs riov_rpc_fuzz_request() too.
 *
 * Security model: the input is arbitrary bytes. data[0] picks a catalog method (bits 6:0, modulo
 * the catalog size plus one for a method the server does not know) and the caller's role (bit 7:
 * readonly, else admin); the rest is the request payload. Every method but Node.Info (the server's
 * own) is registered with a handler that aborts unless the dispatcher handed it a well-formed
 * message of the method's request type.
 *
 * Thread rules: one thread (the server is the control thread's object).
 */
#include <stdint.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "control/rpc_server.h"
#include "control/rpc_server_internal.h"
#include "tests/fuzz/fuzz_entry.h"

static int fuzz_handler(struct riov_rpc_call *call, const ProtobufCMessage *req,
			ProtobufCMessage **resp, char *msg, size_t msglen)
{
	/* Every field of what the dispatcher hands over must be well-formed. */
	if (!protobuf_c_message_check(req))
		abort();
	if (req->descriptor != call->entry->req)
		abort();
	return 0;
}

/* A server without transports, every catalog method registered (once per process). */
static struct riov_rpc_server *fuzz_server(void)
{
	static const struct riov_method_id node_info_id = RIOV_METHOD_ID(Node, info);
	struct riov_rpc_config cfg = { 0 };
	struct riov_rpc_server *srv;
	char err[128];

	if (riov_rpc_server_new(NULL, &cfg, &srv, err, sizeof(err)) < 0)
		abort();
	/* Roles are riovd's (control/svc_*.c), not the RPC layer's: every method needs admin here,
	 * so a readonly caller is denied and an admin one reaches the handler. */
	const struct riov_method *ni = riov_method_get(node_info_id);
	for (size_t i = 0; i < riov_method_count(); i++) {
		const struct riov_method *m = riov_method_at(i);
		if (m == ni)
			continue; /* keep the real one */
		int rc = m->stream ? riov_rpc_register_stream(srv, m->name, RIOV_ROLE_ADMIN,
							      fuzz_handler, m->req, 0)
				   : riov_rpc_register(srv, m->name, RIOV_ROLE_ADMIN, fuzz_handler,
						       m->req);
		if (rc < 0)
			abort();
	}
	return srv;
}

int riov_rpc_fuzz_request(const uint8_t *data, size_t size)
{
	static struct riov_rpc_server *srv;
	static struct evbuffer *out;

	if (!srv) {
		srv = fuzz_server();
		out = evbuffer_new();
		if (!out)
			abort();
	}
	if (size < 1)
		return 0;
	Riov__V1__Frame f = RIOV__V1__FRAME__INIT;
	size_t n = riov_method_count();
	/* one extra value: a method name the server does not know */
	size_t pick = (data[0] & 0x7f) % (n + 1);
	f.method = pick < n ? (char *)riov_method_at(pick)->name : "Nope.Nope";
	f.request_id = size;
	f.payload.data = (uint8_t *)data + 1;
	f.payload.len = size - 1;
	enum riov_role role = (data[0] & 0x80) ? RIOV_ROLE_READONLY : RIOV_ROLE_ADMIN;
	rpc_dispatch(srv, NULL, role, "fuzz", &f, out);
	evbuffer_drain(out, evbuffer_get_length(out));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return riov_rpc_fuzz_request(data, size);
}
