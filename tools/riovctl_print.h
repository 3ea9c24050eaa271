/* SPDX-License-Identifier: BSD-3-Clause */
/* riovctl's output (riovctl_print.c): JSON for scripts, tables and key-value lines for people. */
#ifndef RIOV_TOOLS_RIOVCTL_PRINT_H
#define RIOV_TOOLS_RIOVCTL_PRINT_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/frame.h"

/** --json: print answers as JSON (every field, proto field names) instead of for people. */
extern bool ctl_json_out;

/** Print an answer: JSON with --json; else a table when it is one list (columns cols:
 *  "path=HEADER" entries ending in NULL, "#path=HEADER" for the number of entries of a repeated
 *  field; NULL = every scalar field), else key-value lines. */
void ctl_print_answer(const ProtobufCMessage *m, const char *const *cols);
/** m as ctl_print_answer() prints it with --json, but only its field called field: `net mac
 *  list` prints {"macs": [...]} of every page as one answer. */
void ctl_print_json_field(const ProtobufCMessage *m, const char *field);
/** A table of nrows messages of type rowd, columns as for ctl_print_answer(), indented. */
void ctl_print_table(const ProtobufCMessage *const *rows, size_t nrows,
		     const ProtobufCMessageDescriptor *rowd, const char *const *given, int indent);
/** Key-value lines of m's fields; sub-messages indented, repeated messages as tables. */
void ctl_print_kv(const ProtobufCMessage *m, int indent);
/** The workers of a metrics snapshot as a table for people: their counters, cycles per packet
 *  (busy cycles / packets) and latency percentiles (p50, p99, p99.9, max; riovctl_latency.h).
 *  ctl_print_kv() prints a snapshot's workers so too. */
void ctl_print_workers(const Riov__V1__MetricsSnapshot *s);
/** What `port stats NAME` prints after the port's line: its drops by cause and, for a vhost
 *  port, a "vhost session" block (its vhost-user sessions, memory, migration and IOTLB
 *  counters) and its queue pairs (columns queue_cols) with their drops. */
void ctl_print_port_detail(const Riov__V1__PortCounters *pc, const char *const *queue_cols);
/** `net vtep list`: a line per remote VTEP of r's networks (network, address, resolved, uplink,
 *  next hop's MAC, packets sent and received, drops), or "(no vteps)"; then a totals line per
 *  network with a VNI (packets and bytes each way, drops by cause). */
void ctl_print_vteps(const Riov__V1__NetworkListResponse *r);
/** `net mac list`: a line per entry of the MAC table (address, port, static or learned, local,
 *  remote and pending), or "(no macs)". */
void ctl_print_macs(const Riov__V1__NetworkListMacsResponse *r);

#endif
