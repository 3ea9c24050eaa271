/* SPDX-License-Identifier: BSD-3-Clause */
/* Frame codec and method catalog: limits, partial input, oversize refused from the header alone. */
#include <errno.h>

#include "riov_test.h"
#include "proto/frame.h"
#include "tests/fuzz/fuzz_entry.h"

static Riov__V1__Frame mkframe(const char *method, uint64_t id)
{
	Riov__V1__Frame f = RIOV__V1__FRAME__INIT;
	f.method = (char *)method;
	f.request_id = id;
	return f;
}

RIOV_TEST(roundtrip)
{
	Riov__V1__Frame f = mkframe("Node.Info", 42);
	uint8_t pl[3] = { 1, 2, 3 };
	f.payload.data = pl;
	f.payload.len = 3;
	f.status = 2;
	f.message = "port x not found";
	uint8_t *buf;
	size_t len;
	CHECK_EQ(riov_frame_encode(&f, RIOV_FRAME_MAX_DEFAULT, &buf, &len), 0);
	size_t body = 0;
	CHECK_EQ(riov_frame_check_header(buf, len, RIOV_FRAME_MAX_DEFAULT, &body), 1);
	CHECK_EQ(body + RIOV_FRAME_HDR_LEN, len);
	Riov__V1__Frame *d = NULL;
	CHECK_EQ(riov_frame_decode(buf + 4, body, &d), 0);
	CHECK(d && d->request_id == 42 && strcmp(d->method, "Node.Info") == 0);
	CHECK(d && d->payload.len == 3 && d->payload.data[2] == 3 && d->status == 2);
	CHECK(d && strcmp(d->message, "port x not found") == 0);
	riov_frame_free(d);
	free(buf);
}

RIOV_TEST(partial_header_needs_more)
{
	uint8_t hdr[4];
	riov_frame_put_header(hdr, 100);
	size_t body = 0;
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ(riov_frame_check_header(hdr, i, 1000, &body), 0);
	CHECK_EQ(riov_frame_check_header(hdr, 4, 1000, &body), 1);
	CHECK_EQ(body, 100);
}

RIOV_TEST(oversize_refused_from_header)
{
	/* Only the 4 header bytes exist: the decision needs nothing else. */
	uint8_t hdr[4];
	size_t body = 0;
	riov_frame_put_header(hdr, RIOV_FRAME_MAX_DEFAULT + 1);
	CHECK_EQ(riov_frame_check_header(hdr, 4, RIOV_FRAME_MAX_DEFAULT, &body), -EMSGSIZE);
	riov_frame_put_header(hdr, RIOV_FRAME_MAX_DEFAULT);
	CHECK_EQ(riov_frame_check_header(hdr, 4, RIOV_FRAME_MAX_DEFAULT, &body), 1);
	riov_frame_put_header(hdr, 0xffffffffu);
	CHECK_EQ(riov_frame_check_header(hdr, 4, RIOV_FRAME_MAX_DEFAULT, &body), -EMSGSIZE);
	riov_frame_put_header(hdr, 0);
	CHECK_EQ(riov_frame_check_header(hdr, 4, RIOV_FRAME_MAX_DEFAULT, &body), -EBADMSG);
	/* configurable maximum */
	riov_frame_put_header(hdr, 200);
	CHECK_EQ(riov_frame_check_header(hdr, 4, 199, &body), -EMSGSIZE);
}

RIOV_TEST(encode_refuses_oversize)
{
	static uint8_t big[2048];
	Riov__V1__Frame f = mkframe("Port.Add", 1);
	f.payload.data = big;
	f.payload.len = sizeof(big);
	uint8_t *buf = NULL;
	size_t len = 0;
	CHECK_EQ(riov_frame_encode(&f, 1024, &buf, &len), -EMSGSIZE);
	CHECK(buf == NULL);
	CHECK_EQ(riov_frame_encode(&f, 4096, &buf, &len), 0);
	free(buf);
}

RIOV_TEST(decode_garbage)
{
	uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f };
	Riov__V1__Frame *d = NULL;
	CHECK_EQ(riov_frame_decode(junk, sizeof(junk), &d), -EBADMSG);
	/* truncated: a string field announcing more bytes than present */
	uint8_t trunc[] = { 0x12, 0x10, 'N', 'o' };
	CHECK_EQ(riov_frame_decode(trunc, sizeof(trunc), &d), -EBADMSG);
	/* a method name with a control character is refused */
	Riov__V1__Frame f = mkframe("Node.\nInfo", 1);
	uint8_t *buf;
	size_t len;
	CHECK_EQ(riov_frame_encode(&f, 1024, &buf, &len), 0);
	CHECK_EQ(riov_frame_decode(buf + 4, len - 4, &d), -EBADMSG);
	free(buf);
}

RIOV_TEST(stream_of_frames_split_anywhere)
{
	/* Two frames back to back, fed byte by byte as a reader would see them. */
	Riov__V1__Frame a = mkframe("Node.Info", 1), b = mkframe("Port.List", 2);
	uint8_t *ba, *bb;
	size_t la, lb;
	CHECK_EQ(riov_frame_encode(&a, 1024, &ba, &la), 0);
	CHECK_EQ(riov_frame_encode(&b, 1024, &bb, &lb), 0);
	uint8_t stream[256];
	memcpy(stream, ba, la);
	memcpy(stream + la, bb, lb);
	size_t have = 0, off = 0, got = 0;
	for (have = 1; have <= la + lb; have++) {
		size_t body;
		int rc = riov_frame_check_header(stream + off, have - off, 1024, &body);
		CHECK(rc >= 0);
		if (rc == 1 && have - off >= RIOV_FRAME_HDR_LEN + body) {
			Riov__V1__Frame *d;
			CHECK_EQ(riov_frame_decode(stream + off + 4, body, &d), 0);
			CHECK_EQ(d->request_id, got + 1);
			riov_frame_free(d);
			off += RIOV_FRAME_HDR_LEN + body;
			got++;
		}
	}
	CHECK_EQ(got, 2);
	free(ba);
	free(bb);
}

static const ProtobufCServiceDescriptor *const services[] = {
	&riov__v1__node__descriptor,   &riov__v1__network__descriptor,
	&riov__v1__port__descriptor,   &riov__v1__domain__descriptor,
	&riov__v1__interrupt__descriptor, &riov__v1__device__descriptor,
	&riov__v1__faults__descriptor,
	&riov__v1__metrics__descriptor, &riov__v1__config__descriptor,
	&riov__v1__log__descriptor,
};

RIOV_TEST(catalog_matches_proto_services)
{
	size_t n = 0;
	for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++) {
		for (unsigned i = 0; i < services[s]->n_methods; i++) {
			char name[128];
			snprintf(name, sizeof(name), "%s.%s", services[s]->short_name,
				 services[s]->methods[i].name);
			const struct riov_method *m = riov_method_find(name);
			CHECK(m != NULL);
			if (!m) {
				fprintf(stderr, "  missing from catalog: %s\n", name);
				continue;
			}
			CHECK(m->req == services[s]->methods[i].input);
			CHECK(m->resp == services[s]->methods[i].output);
			n++;
		}
	}
	CHECK_EQ(n, riov_method_count());
	CHECK(riov_method_find("Metrics.Watch")->stream);
	/* roles are riovd's, beside each handler: tests/unit/control/test_svc_catalog.c checks
	 * Port.Add (admin) and Port.List (readonly) there */
	CHECK(riov_method_find("Nope.Nope") == NULL);
	CHECK(riov_method_at(riov_method_count()) == NULL);
	CHECK(strcmp(riov_status_name(RIOV__V1__STATUS__DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED") == 0);
	CHECK(strcmp(riov_status_name(99), "UNKNOWN_STATUS") == 0);
}

/* The catalog against riov.proto's text: every service and rpc is in it, with its stream flag
 * ("returns (stream ..."), and nothing else. This checks what frame.c keeps by hand because
 * protoc-c's descriptors cannot give it: the list of services and the server-streaming methods. */
RIOV_TEST(catalog_matches_proto_text)
{
	FILE *f = fopen(RIOV_PROTO_FILE, "r");
	char line[512], svc[64] = "";
	size_t n = 0;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = line + strspn(line, " \t");
		char name[64], full[160];
		if (sscanf(p, "service %63[A-Za-z0-9_]", name) == 1) {
			snprintf(svc, sizeof(svc), "%s", name);
			continue;
		}
		if (sscanf(p, "rpc %63[A-Za-z0-9_]", name) != 1)
			continue;
		snprintf(full, sizeof(full), "%s.%s", svc, name);
		const struct riov_method *m = riov_method_find(full);
		CHECK(m != NULL);
		if (m == NULL) {
			fprintf(stderr, "  missing from catalog: %s\n", full);
			continue;
		}
		CHECK_EQ(m->stream, strstr(p, "returns (stream ") != NULL);
		n++;
	}
	fclose(f);
	CHECK(n > 0);
	CHECK_EQ(n, riov_method_count());
}

/* RIOV_METHOD_ID() names a method by the member protoc-c generates for it. */
RIOV_TEST(method_ids_from_generated_names)
{
	static const struct {
		struct riov_method_id id;
		const char *name;
	} cases[] = {
		{ RIOV_METHOD_ID(Node, info), "Node.Info" },
		{ RIOV_METHOD_ID(Network, delete), "Network.Delete" },
		{ RIOV_METHOD_ID(Port, stats), "Port.Stats" },
		{ RIOV_METHOD_ID(Domain, translate_probe), "Domain.TranslateProbe" },
		{ RIOV_METHOD_ID(Domain, attach), "Domain.Attach" },
		{ RIOV_METHOD_ID(Device, list_vfs), "Device.ListVfs" },
		{ RIOV_METHOD_ID(Metrics, watch), "Metrics.Watch" },
		{ RIOV_METHOD_ID(Config, show), "Config.Show" },
		{ RIOV_METHOD_ID(Log, set), "Log.Set" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct riov_method *m = riov_method_get(cases[i].id);
		CHECK(m != NULL && strcmp(m->name, cases[i].name) == 0);
		CHECK(m == riov_method_find(cases[i].name));
	}
	CHECK_EQ(RIOV_SERVICE_N_METHODS(Domain), riov__v1__domain__descriptor.n_methods);
	CHECK_EQ(RIOV_SERVICE_N_METHODS(Node), riov__v1__node__descriptor.n_methods);
	struct riov_method_id bad = { "Nope", 0 };
	CHECK(riov_method_get(bad) == NULL);
}

RIOV_TEST(fuzz_entry_on_seeds)
{
	Riov__V1__PortAddRequest req = RIOV__V1__PORT_ADD_REQUEST__INIT;
	Riov__V1__PortSpec spec = RIOV__V1__PORT_SPEC__INIT;
	spec.name = "vm1-eth0";
	spec.net = "blue";
	req.port = &spec;
	uint8_t pl[256];
	Riov__V1__Frame f = mkframe("Port.Add", 7);
	f.payload.data = pl;
	f.payload.len = riov__v1__port_add_request__pack(&req, pl);
	uint8_t *buf;
	size_t len;
	CHECK_EQ(riov_frame_encode(&f, 1024, &buf, &len), 0);
	CHECK_EQ(riov_frame_fuzz_one(buf, len), 1);       /* the frame decoded */
	CHECK_EQ(riov_frame_fuzz_one(buf, len - 1), 0);   /* a partial frame waits for more */
	uint8_t two[2048];
	CHECK(2 * len <= sizeof(two));
	memcpy(two, buf, len);
	memcpy(two + len, buf, len);
	CHECK_EQ(riov_frame_fuzz_one(two, 2 * len), 2);
	free(buf);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(roundtrip), RIOV_TEST_ENTRY(partial_header_needs_more),
	       RIOV_TEST_ENTRY(oversize_refused_from_header), RIOV_TEST_ENTRY(encode_refuses_oversize),
	       RIOV_TEST_ENTRY(decode_garbage), RIOV_TEST_ENTRY(stream_of_frames_split_anywhere),
	       RIOV_TEST_ENTRY(catalog_matches_proto_services), RIOV_TEST_ENTRY(catalog_matches_proto_text),
	       RIOV_TEST_ENTRY(method_ids_from_generated_names), RIOV_TEST_ENTRY(fuzz_entry_on_seeds))
