/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Blocking riov RPC client (used by riovctl and the tests): connect over a Unix socket or
 * TLS 1.3 with a client certificate, send request frames, read answers. One client per thread.
 */
#ifndef RIOV_TOOLS_RPC_CLIENT_H
#define RIOV_TOOLS_RPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/frame.h"

#define RIOV_CLIENT_DEFAULT_SOCKET "/run/riov/riovd.sock"

struct riov_client;

struct riov_client_opts {
	const char *connect;   /* "unix:PATH", "PATH" or "tls://HOST:PORT"; NULL = $RIOV_SOCKET,
				* else RIOV_CLIENT_DEFAULT_SOCKET */
	const char *cert;      /* TLS: client certificate (PEM) */
	const char *key;       /* TLS: its key (PEM) */
	const char *ca;        /* TLS: CA that signed the server's certificate */
	unsigned timeout_ms;   /* per connect, send and receive; 0 = 10000 */
	size_t max_frame;      /* largest answer accepted; 0 = RIOV_FRAME_MAX_DEFAULT */
};

/**
 * Connect (and for TLS, finish the handshake).
 * @return 0 with *out set, or a negative errno with err filled with a sentence for a person.
 */
int riov_client_connect(const struct riov_client_opts *o, struct riov_client **out, char *err,
			size_t errlen);

/** Close and free (NULL is fine). */
void riov_client_close(struct riov_client *c);

/**
 * Unary call of a catalog method.
 * @param resp set to the unpacked answer (free with protobuf_c_message_free_unpacked()) when the
 *             status is OK; NULL otherwise. May be NULL when the caller does not want it.
 * @param msg  the server's message, or a transport error description
 * @return the riov.v1.Status (>= 0) of the answer, or a negative errno when the call could not
 *         be made or answered (connection closed, timeout, TLS failure, bad answer).
 */
int riov_client_call(struct riov_client *c, const char *method, const ProtobufCMessage *req,
		     ProtobufCMessage **resp, char *msg, size_t msglen);

/** Called per streamed answer; return non-zero to stop the stream (the connection is closed). */
typedef int (*riov_client_stream_fn)(const ProtobufCMessage *resp, void *arg);

/**
 * Server-streaming call (Metrics.Watch): cb runs for every OK answer until the server ends the
 * stream, cb returns non-zero, or an error arrives.
 * @return as riov_client_call(); 0 also when cb stopped the stream.
 */
int riov_client_stream(struct riov_client *c, const char *method, const ProtobufCMessage *req,
		       riov_client_stream_fn cb, void *arg, char *msg, size_t msglen);

#endif
