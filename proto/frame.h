/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov RPC frames and the method catalog.
 *
 * A frame on the wire is a 4-byte big-endian length N followed by N bytes holding a packed
 * riov.v1.Frame. N is checked against the maximum frame size before the body is read or
 * decoded, so a peer cannot make the reader buffer more than max bytes per frame.
 *
 * The catalog lists every method of riov.proto ("Service.Method") with its request and
 * response descriptors and whether it streams. It is built from protoc-c's generated service
 * descriptors (riov__v1__*__descriptor), never from a hand-kept list of methods; server and client
 * both use it. The role a method needs is not part of the schema: riovd declares it beside each
 * handler (control/svc_*.c).
 *
 * No I/O; the catalog is built once, on first use (pthread_once): safe from any thread.
 */
#ifndef RIOV_PROTO_FRAME_H
#define RIOV_PROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riov.pb-c.h"

#define RIOV_FRAME_HDR_LEN 4u
#define RIOV_FRAME_MAX_DEFAULT (1u << 20)  /* 1 MiB body */
#define RIOV_FRAME_MAX_LIMIT (64u << 20)   /* highest configurable maximum */
#define RIOV_METHOD_NAME_MAX 64u           /* longest method name accepted in a frame */

/* Roles, ordered: a client with role R may call methods that need a role <= R. */
enum riov_role {
	RIOV_ROLE_READONLY = 0,
	RIOV_ROLE_ADMIN = 1,
};

struct riov_method {
	const char *name;                          /* "Port.Add" */
	const ProtobufCServiceDescriptor *service; /* its service (riov__v1__port__descriptor) */
	unsigned index;                            /* its index in service->methods */
	const ProtobufCMessageDescriptor *req;     /* request payload type */
	const ProtobufCMessageDescriptor *resp;    /* response payload type */
	bool stream;                               /* server stream (many answers) */
};

/*
 * A method named in C by what protoc-c generates for it, so that a misspelt method fails the build:
 * RIOV_METHOD_ID(Port, add) is Port.Add. protoc-c gives service Svc a struct
 * Riov__V1__<Svc>_Service whose handler pointers follow its ProtobufCService base in the order of
 * the descriptor's methods (the layout protobuf-c's own protobuf_c_service_invoke_internal()
 * indexes), so a member's offset is the method's index.
 */
struct riov_method_id {
	const char *service;                       /* short name of the service ("Port") */
	unsigned index;                            /* index in that service's methods */
};

#define RIOV_METHOD_INDEX(Svc, member)                                                        \
	((unsigned)((offsetof(Riov__V1__##Svc##_Service, member) - sizeof(ProtobufCService)) /  \
		    sizeof(void (*)(void))))
/* Number of methods riov.proto gives service Svc (an integer constant expression). */
#define RIOV_SERVICE_N_METHODS(Svc)                                                           \
	((unsigned)((sizeof(Riov__V1__##Svc##_Service) - sizeof(ProtobufCService)) /            \
		    sizeof(void (*)(void))))
/* Initializer of a struct riov_method_id. */
#define RIOV_METHOD_ID(Svc, member) { #Svc, RIOV_METHOD_INDEX(Svc, member) }

/**
 * Look at the first bytes of a stream for a frame header.
 * @param buf bytes received so far (may be fewer than 4)
 * @param max maximum body length accepted
 * @param body_len set to the body length when 1 is returned
 * @return 1 when a header is present and its length is within max, 0 when fewer than 4 bytes
 *         are available, -EMSGSIZE when the announced length exceeds max (the body must not be
 *         read), -EBADMSG when the announced length is 0 (an empty Frame is never valid).
 */
int riov_frame_check_header(const uint8_t *buf, size_t avail, size_t max, size_t *body_len);

/** Write the 4-byte big-endian header for a body of body_len bytes into hdr. */
void riov_frame_put_header(uint8_t hdr[RIOV_FRAME_HDR_LEN], uint32_t body_len);

/**
 * Encode a frame (header + packed body) into a new malloc'd buffer.
 * @return 0 with *out and *outlen set (free with free()), -EMSGSIZE when the body exceeds max,
 *         -ENOMEM.
 */
int riov_frame_encode(const Riov__V1__Frame *f, size_t max, uint8_t **out, size_t *outlen);

/**
 * Decode a frame body (without its header).
 * @return 0 with *out set (free with riov_frame_free()), -EBADMSG when the bytes are not a
 *         Frame or the method name is longer than RIOV_METHOD_NAME_MAX or not printable ASCII.
 */
int riov_frame_decode(const uint8_t *body, size_t len, Riov__V1__Frame **out);

/** Free a frame returned by riov_frame_decode() (NULL is fine). */
void riov_frame_free(Riov__V1__Frame *f);

/**
 * Pack a message into a new malloc'd buffer.
 * @return 0 with *out and *len set (*out may be NULL when *len is 0), -EMSGSIZE when it exceeds
 *         max, -ENOMEM.
 */
int riov_msg_pack(const ProtobufCMessage *m, size_t max, uint8_t **out, size_t *len);

/** Find a method by wire name. @return the catalog entry or NULL. */
const struct riov_method *riov_method_find(const char *name);

/** Find a method by its C name (RIOV_METHOD_ID()). @return the catalog entry or NULL. */
const struct riov_method *riov_method_get(struct riov_method_id id);

/** Number of catalog entries; entries are reached with riov_method_at(0..count-1). */
size_t riov_method_count(void);

/** @return catalog entry i, or NULL when i is out of range. */
const struct riov_method *riov_method_at(size_t i);

/** @return the enum name of a status ("NOT_FOUND"), or "UNKNOWN_STATUS". */
const char *riov_status_name(int status);

/** @return "admin" or "readonly". */
const char *riov_role_name(enum riov_role role);

#endif
