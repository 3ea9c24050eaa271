/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov RPC frames and the method catalog.
 *
 * A frame on the wire is a 4-byte big-endian length N followed by N bytes holding a packed
 * riov.v1.Frame. N is checked against the maximum frame size before the body is read or
 * decoded, so a peer cannot make the reader buffer more than max bytes per frame.
 *
 * The catalog lists every method of riov.proto ("Service.Method") with its request and
 * response descriptors, the role it needs and whether it streams. Server and client both use it.
 *
 * Pure functions, no I/O, no global state: safe from any thread.
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
	const ProtobufCMessageDescriptor *req;     /* request payload type */
	const ProtobufCMessageDescriptor *resp;    /* response payload type */
	enum riov_role role;                       /* role needed to call it */
	bool stream;                               /* server stream (many answers) */
};

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

/** Number of catalog entries; entries are reached with riov_method_at(0..count-1). */
size_t riov_method_count(void);

/** @return catalog entry i, or NULL when i is out of range. */
const struct riov_method *riov_method_at(size_t i);

/** @return the enum name of a status ("NOT_FOUND"), or "UNKNOWN_STATUS". */
const char *riov_status_name(int status);

/** @return "admin" or "readonly". */
const char *riov_role_name(enum riov_role role);

/**
 * Fuzz entry: treat data as a byte stream of frames, decode each one and, for frames naming a
 * catalog method, unpack the payload as that method's request and response types.
 * @return 0 always (crashes and sanitizer reports are the signal).
 */
int riov_frame_fuzz_one(const uint8_t *data, size_t size);

#endif
