/* SPDX-License-Identifier: BSD-3-Clause */
/* RPC server pieces without a socket: errno -> status mapping, registration rules, and the
 * dispatch path used by the fuzzer (every catalog method, both roles, garbage payloads; the
 * fuzz harness tests/fuzz/fuzz_rpc_requests.c is built in). */
#include <errno.h>

#include "riov_test.h"
#include "control/rpc_server.h"
#include "tests/fuzz/fuzz_entry.h"

RIOV_TEST(errno_to_status)
{
	CHECK_EQ(riov_rpc_status_from_errno(0), RIOV__V1__STATUS__OK);
	CHECK_EQ(riov_rpc_status_from_errno(-EINVAL), RIOV__V1__STATUS__INVALID_ARGUMENT);
	CHECK_EQ(riov_rpc_status_from_errno(-ENOENT), RIOV__V1__STATUS__NOT_FOUND);
	CHECK_EQ(riov_rpc_status_from_errno(-EEXIST), RIOV__V1__STATUS__ALREADY_EXISTS);
	CHECK_EQ(riov_rpc_status_from_errno(EEXIST), RIOV__V1__STATUS__ALREADY_EXISTS);
	CHECK_EQ(riov_rpc_status_from_errno(-EPERM), RIOV__V1__STATUS__PERMISSION_DENIED);
	CHECK_EQ(riov_rpc_status_from_errno(-EBUSY), RIOV__V1__STATUS__FAILED_PRECONDITION);
	CHECK_EQ(riov_rpc_status_from_errno(-ENOMEM), RIOV__V1__STATUS__RESOURCE_EXHAUSTED);
	CHECK_EQ(riov_rpc_status_from_errno(-EAGAIN), RIOV__V1__STATUS__UNAVAILABLE);
	CHECK_EQ(riov_rpc_status_from_errno(-ETIMEDOUT), RIOV__V1__STATUS__DEADLINE_EXCEEDED);
	CHECK_EQ(riov_rpc_status_from_errno(-ENOSYS), RIOV__V1__STATUS__UNIMPLEMENTED);
	CHECK_EQ(riov_rpc_status_from_errno(-EIO), RIOV__V1__STATUS__INTERNAL);
}

static int h(struct riov_rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp,
	     char *msg, size_t msglen)
{
	return 0;
}

RIOV_TEST(registration_rules)
{
	struct riov_rpc_server *srv;
	char err[128];
	struct riov_rpc_config cfg = { 0 };
	CHECK_EQ(riov_rpc_server_new(NULL, &cfg, &srv, err, sizeof(err)), 0);
	CHECK_EQ(riov_rpc_register(srv, "Port.Add", RIOV_ROLE_ADMIN, h,
				   &riov__v1__port_add_request__descriptor), 0);
	/* wrong request type for a catalog method */
	CHECK_EQ(riov_rpc_register(srv, "Port.Add", RIOV_ROLE_ADMIN, h,
				   &riov__v1__port_list_request__descriptor), -EINVAL);
	/* a stream method registered as unary and the reverse */
	CHECK_EQ(riov_rpc_register(srv, "Metrics.Watch", RIOV_ROLE_READONLY, h,
				   &riov__v1__metrics_watch_request__descriptor), -EINVAL);
	CHECK_EQ(riov_rpc_register_stream(srv, "Port.List", RIOV_ROLE_READONLY, h,
					  &riov__v1__port_list_request__descriptor, 0), -EINVAL);
	CHECK_EQ(riov_rpc_register(srv, "NoDot", RIOV_ROLE_ADMIN, h,
				   &riov__v1__port_add_request__descriptor), -EINVAL);
	CHECK_EQ(riov_rpc_register(srv, "Port.Add", RIOV_ROLE_ADMIN, NULL,
				   &riov__v1__port_add_request__descriptor), -EINVAL);
	riov_rpc_server_free(srv);
	/* transports without an event_base are refused */
	cfg.unix_path = "/tmp/x.sock";
	CHECK_EQ(riov_rpc_server_new(NULL, &cfg, &srv, err, sizeof(err)), -EINVAL);
	cfg.unix_path = NULL;
	cfg.max_frame = 16;
	CHECK_EQ(riov_rpc_server_new(NULL, &cfg, &srv, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "max frame size") != NULL);
}

RIOV_TEST(dispatch_every_method_with_junk)
{
	uint8_t buf[64];
	for (unsigned sel = 0; sel < 256; sel++) {
		buf[0] = (uint8_t)sel;
		for (size_t i = 1; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(sel * 13 + i * 7);
		CHECK_EQ(riov_rpc_fuzz_request(buf, 1), 0);          /* empty payload */
		CHECK_EQ(riov_rpc_fuzz_request(buf, sizeof(buf)), 0); /* junk payload */
	}
	CHECK_EQ(riov_rpc_fuzz_request(buf, 0), 0);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(errno_to_status), RIOV_TEST_ENTRY(registration_rules),
	       RIOV_TEST_ENTRY(dispatch_every_method_with_junk))
