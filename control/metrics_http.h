/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Prometheus text endpoint (exposition format 0.0.4): GET /metrics calls a collector that
 * appends lines to an evbuffer with the helpers below. One request per connection; at most
 * max_conns connections at once (16 by default; more get 503 and are closed) and one deadline per
 * connection from accept (10 s by default). Off unless riovd is configured with an ADDR:PORT.
 * Control thread only.
 *
 * Example output:
 *   # HELP riov_port_rx_packets_total Packets received on a port.
 *   # TYPE riov_port_rx_packets_total counter
 *   riov_port_rx_packets_total{port="vm1-eth0",net="blue"} 42
 */
#ifndef RIOV_CONTROL_METRICS_HTTP_H
#define RIOV_CONTROL_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>

struct riov_metrics_http;

/** Append every metric to out (called once per scrape, control thread). */
typedef void (*riov_metrics_collect_fn)(struct evbuffer *out, void *arg);

/**
 * Start serving GET /metrics on listen ("ADDR:PORT", "[ADDR]:PORT"; port 0 = any free port).
 * @return 0 with *out set, or a negative errno (-EINVAL bad address, -EADDRINUSE, ...) with err
 *         filled.
 */
int riov_metrics_http_start(struct event_base *base, const char *listen,
			    riov_metrics_collect_fn collect, void *arg,
			    struct riov_metrics_http **out, char *err, size_t errlen);

/**
 * Set the connection cap and the per-connection deadline (from accept to the answer sent;
 * traffic does not extend it). 0 keeps the default (16 connections, 10000 ms). Applies to
 * connections accepted from now on.
 */
void riov_metrics_http_set_limits(struct riov_metrics_http *m, unsigned max_conns,
				  unsigned timeout_ms);

/** @return the TCP port bound. */
int riov_metrics_http_port(const struct riov_metrics_http *m);

/** Stop serving and free (NULL is fine). */
void riov_metrics_http_stop(struct riov_metrics_http *m);

/**
 * Append "# HELP name help" (help escaped) and "# TYPE name type".
 * @param type "counter", "gauge", "untyped" ...
 */
void riov_metrics_header(struct evbuffer *out, const char *name, const char *help,
			 const char *type);

/**
 * Append one sample: name{k1="v1",...} value. labels holds nlabels key/value pairs as
 * {k1, v1, k2, v2, ...}; values are escaped (\\, \", \n).
 */
void riov_metrics_sample_u64(struct evbuffer *out, const char *name, const char *const *labels,
			     size_t nlabels, uint64_t value);

/** Same as riov_metrics_sample_u64() for a floating-point value (NaN, +Inf, -Inf spelled as
 *  Prometheus wants). */
void riov_metrics_sample_double(struct evbuffer *out, const char *name,
				const char *const *labels, size_t nlabels, double value);

struct sockaddr;
/** Parse "ADDR:PORT" or "[ADDR]:PORT" (port 0 allowed: any free port) into sa (*len: its size in,
 *  the address length out). Returns 0 or -1. Shared by the metrics and TLS listeners. */
int riov_listen_addr_parse(const char *s, struct sockaddr *sa, int *len);

#endif
