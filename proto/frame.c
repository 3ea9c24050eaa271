/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame codec and method catalog.
 *
 * Security model: every byte given to riov_frame_check_header() and riov_frame_decode() comes
 * from an unauthenticated or untrusted peer. The length header is checked against the maximum
 * before anything else; decoding is done by protobuf-c, which bounds every field by the buffer
 * it is given; the method name is checked for length and characters before anyone compares or
 * logs it. Nothing here keeps state between calls but the method catalog, built once from the
 * generated descriptors.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
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

/* The services of riov.proto. Their methods, names and message types come from protoc-c's
 * descriptors; tests/unit/proto checks this list against the services riov.proto declares. */
static const ProtobufCServiceDescriptor *const services[] = {
	&riov__v1__node__descriptor,      &riov__v1__network__descriptor,
	&riov__v1__port__descriptor,      &riov__v1__domain__descriptor,
	&riov__v1__interrupt__descriptor, &riov__v1__device__descriptor,
	&riov__v1__faults__descriptor,    &riov__v1__metrics__descriptor,
	&riov__v1__config__descriptor,    &riov__v1__log__descriptor,
};
#define N_SERVICES (sizeof(services) / sizeof(services[0]))

/* Server-streaming methods. protobuf-c has no streaming, so its descriptors do not say which
 * methods stream ("returns (stream ...)"); tests/unit/proto checks this list against riov.proto. */
static const struct riov_method_id server_streams[] = {
	RIOV_METHOD_ID(Metrics, watch),
};

#define METHODS_MAX 256u

static struct {
	struct riov_method m[METHODS_MAX];
	char names[METHODS_MAX][RIOV_METHOD_NAME_MAX];
	size_t n;
} catalog;
static pthread_once_t catalog_once = PTHREAD_ONCE_INIT;

static struct riov_method *catalog_get(const char *service, unsigned index)
{
	for (size_t i = 0; i < catalog.n; i++)
		if (catalog.m[i].index == index && strcmp(catalog.m[i].service->short_name, service) == 0)
			return &catalog.m[i];
	return NULL;
}

/* Every method of every service, in the order of riov.proto. A name that would not fit a frame's
 * method field, or methods beyond METHODS_MAX, are left out: the unit test that counts the
 * schema's methods catches that. */
static void catalog_build(void)
{
	for (size_t s = 0; s < N_SERVICES; s++) {
		const ProtobufCServiceDescriptor *sd = services[s];
		for (unsigned i = 0; i < sd->n_methods && catalog.n < METHODS_MAX; i++) {
			char *name = catalog.names[catalog.n];
			int len = snprintf(name, RIOV_METHOD_NAME_MAX, "%s.%s", sd->short_name,
					   sd->methods[i].name);
			if (len < 0 || (size_t)len >= RIOV_METHOD_NAME_MAX)
				continue;
			catalog.m[catalog.n++] = (struct riov_method){
				.name = name, .service = sd, .index = i, .req = sd->methods[i].input,
				.resp = sd->methods[i].output, .stream = false,
			};
		}
	}
	for (size_t k = 0; k < sizeof(server_streams) / sizeof(server_streams[0]); k++) {
		struct riov_method *m = catalog_get(server_streams[k].service, server_streams[k].index);
		if (m != NULL)
			m->stream = true;
	}
}

static void catalog_ready(void)
{
	pthread_once(&catalog_once, catalog_build);
}

const struct riov_method *riov_method_find(const char *name)
{
	if (!name)
		return NULL;
	catalog_ready();
	for (size_t i = 0; i < catalog.n; i++)
		if (strcmp(catalog.m[i].name, name) == 0)
			return &catalog.m[i];
	return NULL;
}

const struct riov_method *riov_method_get(struct riov_method_id id)
{
	if (!id.service)
		return NULL;
	catalog_ready();
	return catalog_get(id.service, id.index);
}

size_t riov_method_count(void)
{
	catalog_ready();
	return catalog.n;
}

const struct riov_method *riov_method_at(size_t i)
{
	return i < riov_method_count() ? &catalog.m[i] : NULL;
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
