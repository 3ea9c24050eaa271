/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame codec and method catalog.
 *
 * Security model: every byte given to riov_frame_check_header() and riov_frame_decode() comes
 * from an unauthenticated or untrusted peer. The length header is checked against the maximum
 * before anything else; decoding is done by protobuf-c, which bounds every field by the buffer
 * it is given; the method name is checked for length and characters before anyone compares or
 * logs it. Nothing here keeps state between calls.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int riov_frame_check_header(const uint8_t *buf, size_t avail, size_t max, size_t *body_len)
{
	if (avail < RIOV_FRAME_HDR_LEN)
		return 0;
	uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 |
		     (uint32_t)buf[3];
	if ((size_t)n > max)
		return -EMSGSIZE;
	if (n == 0)
		return -EBADMSG;
	*body_len = n;
	return 1;
}

void riov_frame_put_header(uint8_t hdr[RIOV_FRAME_HDR_LEN], uint32_t body_len)
{
	hdr[0] = (uint8_t)(body_len >> 24);
	hdr[1] = (uint8_t)(body_len >> 16);
	hdr[2] = (uint8_t)(body_len >> 8);
	hdr[3] = (uint8_t)body_len;
}

int riov_msg_pack(const ProtobufCMessage *m, size_t max, uint8_t **out, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	if (n > max)
		return -EMSGSIZE;
	*out = NULL;
	*len = n;
	if (n == 0)
		return 0;
	uint8_t *b = malloc(n);
	if (!b)
		return -ENOMEM;
	protobuf_c_message_pack(m, b);
	*out = b;
	return 0;
}

int riov_frame_encode(const Riov__V1__Frame *f, size_t max, uint8_t **out, size_t *outlen)
{
	size_t n = protobuf_c_message_get_packed_size(&f->base);
	if (n > max || n > UINT32_MAX)
		return -EMSGSIZE;
	/* An all-default Frame packs to zero bytes, which the reader rejects; a request always
	 * names a method and an answer always carries a request id, so this cannot happen for
	 * well-formed frames. Refuse it here too so both sides agree. */
	if (n == 0)
		return -EINVAL;
	uint8_t *b = malloc(RIOV_FRAME_HDR_LEN + n);
	if (!b)
		return -ENOMEM;
	riov_frame_put_header(b, (uint32_t)n);
	protobuf_c_message_pack(&f->base, b + RIOV_FRAME_HDR_LEN);
	*out = b;
	*outlen = RIOV_FRAME_HDR_LEN + n;
	return 0;
}

static bool method_name_ok(const char *s)
{
	size_t i;
	for (i = 0; s[i]; i++) {
		if (i >= RIOV_METHOD_NAME_MAX)
			return false;
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_'))
			return false;
	}
	return true;
}

int riov_frame_decode(const uint8_t *body, size_t len, Riov__V1__Frame **out)
{
	Riov__V1__Frame *f = riov__v1__frame__unpack(NULL, len, body);
	if (!f)
		return -EBADMSG;
	if (!method_name_ok(f->method)) {
		riov__v1__frame__free_unpacked(f, NULL);
		return -EBADMSG;
	}
	*out = f;
	return 0;
}

void riov_frame_free(Riov__V1__Frame *f)
{
	if (f)
		riov__v1__frame__free_unpacked(f, NULL);
}

/* ------------------------------------------------------------------ catalog */

#define M(svc, meth, reqd, respd, role_, stream_)                                            \
	{ svc "." meth, &riov__v1__##reqd##_request__descriptor,                            \
	  &riov__v1__##respd##_response__descriptor, RIOV_ROLE_##role_, stream_ }

/* The role each method needs. Reading state is READONLY; anything that changes desired state,
 * counters or the state file is ADMIN. docs/api.md repeats this table; tests/unit/proto checks
 * that it lists exactly the methods of riov.proto's services. */
static const struct riov_method methods[] = {
	M("Node", "Info", node_info, node_info, READONLY, false),
	M("Network", "Add", network_add, network_add, ADMIN, false),
	M("Network", "Delete", network_delete, network_delete, ADMIN, false),
	M("Network", "List", network_list, network_list, READONLY, false),
	M("Port", "Add", port_add, port_add, ADMIN, false),
	M("Port", "Delete", port_delete, port_delete, ADMIN, false),
	M("Port", "List", port_list, port_list, READONLY, false),
	M("Port", "Stats", port_stats, port_stats, READONLY, false),
	M("Domain", "Show", domain_show, domain_show, READONLY, false),
	M("Domain", "Map", domain_map, domain_map, ADMIN, false),
	M("Domain", "Unmap", domain_unmap, domain_unmap, ADMIN, false),
	M("Domain", "TranslateProbe", domain_translate_probe, domain_translate_probe, READONLY,
	  false),
	M("Domain", "Create", domain_create, domain_create, ADMIN, false),
	M("Domain", "Attach", domain_attach, domain_attach, ADMIN, false),
	M("Interrupt", "Set", interrupt_set, interrupt_set, ADMIN, false),
	M("Interrupt", "Mask", interrupt_mask, interrupt_mask, ADMIN, false),
	M("Interrupt", "Coalesce", interrupt_coalesce, interrupt_coalesce, ADMIN, false),
	M("Interrupt", "List", interrupt_list, interrupt_list, READONLY, false),
	M("Device", "Assign", device_assign, device_assign, ADMIN, false),
	M("Device", "Release", device_release, device_release, ADMIN, false),
	M("Device", "List", device_list, device_list, READONLY, false),
	M("Device", "SetVfs", device_set_vfs, device_set_vfs, ADMIN, false),
	M("Device", "ListVfs", device_list_vfs, device_list_vfs, READONLY, false),
	M("Faults", "Read", faults_read, faults_read, READONLY, false),
	M("Faults", "Clear", faults_clear, faults_clear, ADMIN, false),
	M("Metrics", "Snapshot", metrics_snapshot, metrics_snapshot, READONLY, false),
	M("Metrics", "Watch", metrics_watch, metrics_watch, READONLY, true),
	M("Config", "Save", config_save, config_save, ADMIN, false),
	M("Config", "Show", config_show, config_show, READONLY, false),
};
#undef M

const struct riov_method *riov_method_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

size_t riov_method_count(void)
{
	return sizeof(methods) / sizeof(methods[0]);
}

const struct riov_method *riov_method_at(size_t i)
{
	return i < riov_method_count() ? &methods[i] : NULL;
}

static const char *const status_names[] = {
	"OK", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
	"FAILED_PRECONDITION", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL", "UNIMPLEMENTED",
	"DEADLINE_EXCEEDED",
};

const char *riov_status_name(int status)
{
	if (status < 0 || (size_t)status >= sizeof(status_names) / sizeof(status_names[0]))
		return "UNKNOWN_STATUS";
	return status_names[status];
}

const char *riov_role_name(enum riov_role role)
{
	return role >= RIOV_ROLE_ADMIN ? "admin" : "readonly";
}

/* ------------------------------------------------------------------ fuzzing */

int riov_frame_fuzz_one(const uint8_t *data, size_t size)
{
	size_t off = 0;
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
			const struct riov_method *m = riov_method_find(f->method);
			if (m) {
				ProtobufCMessage *req = protobuf_c_message_unpack(
					m->req, NULL, f->payload.len, f->payload.data);
				if (req) {
					/* Round trip: what decodes must re-encode. */
					uint8_t *p = NULL;
					size_t plen = 0;
					if (riov_msg_pack(req, SIZE_MAX, &p, &plen) == 0)
						free(p);
					protobuf_c_message_free_unpacked(req, NULL);
				}
				ProtobufCMessage *resp = protobuf_c_message_unpack(
					m->resp, NULL, f->payload.len, f->payload.data);
				if (resp)
					protobuf_c_message_free_unpacked(resp, NULL);
			}
			uint8_t *enc = NULL;
			size_t enclen = 0;
			if (riov_frame_encode(f, SIZE_MAX, &enc, &enclen) == 0)
				free(enc);
			riov_frame_free(f);
		}
		off += body;
	}
	return 0;
}
