/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riovctl's output: every answer as JSON with the proto field names (--json, for scripts), or for
 * people as a table (an answer that is one list), key-value lines, and the details of one port's
 * counters. Driven by protoc-c's descriptors, so a field added to riov.proto shows without code
 * here.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riovctl_latency.h"
#include "riovctl_print.h"

/* ------------------------------------------------------------------ output: values */

bool ctl_json_out;

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4;
	}
}

static const void *field_ptr(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
			     size_t i)
{
	const char *base = (const char *)m + f->offset;
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const char *const *)base + i * elem_size(f);
	return base;
}

static size_t field_count(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *)((const char *)m + f->quantifier_offset);
	return 1;
}

static bool is_address(const char *name)
{
	return strcmp(name, "iova") == 0 || strcmp(name, "target") == 0 ||
	       strcmp(name, "address") == 0 || strcmp(name, "features") == 0;
}

/* Enum value for people: PORT_TYPE_VHOST -> vhost. */
static void enum_text(const ProtobufCEnumDescriptor *ed, int v, char *buf, size_t len, bool raw)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(ed, v);
	if (!ev) {
		snprintf(buf, len, "%d", v);
		return;
	}
	if (raw) {
		snprintf(buf, len, "%s", ev->name);
		return;
	}
	char prefix[64];
	size_t k = 0;
	for (const char *s = ed->short_name; *s && k + 2 < sizeof(prefix); s++) {
		if (s != ed->short_name && *s >= 'A' && *s <= 'Z')
			prefix[k++] = '_';
		prefix[k++] = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
	}
	prefix[k++] = '_';
	prefix[k] = 0;
	const char *n = strncmp(ev->name, prefix, k) == 0 ? ev->name + k : ev->name;
	size_t i;
	for (i = 0; n[i] && i + 1 < len; i++)
		buf[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] + 32 : n[i]);
	buf[i] = 0;
}

/* A scalar as text (for tables), or NULL for messages. */
static const char *scalar_text(const ProtobufCFieldDescriptor *f, const void *p, char *buf,
			       size_t len)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
		snprintf(buf, len, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
		snprintf(buf, len, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(buf, len, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
		if (is_address(f->name) && !ctl_json_out)
			snprintf(buf, len, "0x%" PRIx64, *(const uint64_t *)p);
		else
			snprintf(buf, len, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		snprintf(buf, len, "%g", (double)*(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		snprintf(buf, len, "%g", *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		snprintf(buf, len, "%s", *(const protobuf_c_boolean *)p ? (ctl_json_out ? "true" : "yes")
									: (ctl_json_out ? "false" : "no"));
		break;
	case PROTOBUF_C_TYPE_ENUM:
		enum_text(f->descriptor, *(const int *)p, buf, len, ctl_json_out);
		break;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)p;
		snprintf(buf, len, "%s", s ? s : "");
		break;
	}
	case PROTOBUF_C_TYPE_BYTES:
		snprintf(buf, len, "(%zu bytes)", ((const ProtobufCBinaryData *)p)->len);
		break;
	default:
		return NULL;
	}
	return buf;
}

/* ------------------------------------------------------------------ output: JSON */

static void json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\t')
			fputs("\\t", stdout);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void json_message(const ProtobufCMessage *m, int indent);

static void json_value(const ProtobufCFieldDescriptor *f, const void *p, int indent)
{
	char buf[128];
	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
		if (sub)
			json_message(sub, indent);
		else
			fputs("null", stdout);
	} else if (f->type == PROTOBUF_C_TYPE_STRING) {
		const char *s = *(const char *const *)p;
		json_string(s ? s : "");
	} else if (f->type == PROTOBUF_C_TYPE_ENUM) {
		enum_text(f->descriptor, *(const int *)p, buf, sizeof(buf), true);
		json_string(buf);
	} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
		const ProtobufCBinaryData *b = p;
		putchar('"');
		for (size_t i = 0; i < b->len; i++)
			printf("%02x", b->data[i]);
		putchar('"');
	} else {
		fputs(scalar_text(f, p, buf, sizeof(buf)), stdout);
	}
}

/* m as JSON, only its field called only when that is not NULL. */
static void json_fields(const ProtobufCMessage *m, int indent, const char *only)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	unsigned shown = 0;
	printf("{");
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (only != NULL && strcmp(f->name, only) != 0)
			continue;
		printf("%s\n%*s\"%s\": ", shown++ ? "," : "", indent + 2, "", f->name);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = field_count(m, f);
			printf("[");
			for (size_t k = 0; k < n; k++) {
				printf("%s\n%*s", k ? "," : "", indent + 4, "");
				json_value(f, field_ptr(m, f, k), indent + 4);
			}
			if (n)
				printf("\n%*s", indent + 2, "");
			printf("]");
		} else {
			json_value(f, field_ptr(m, f, 0), indent + 2);
		}
	}
	printf("%s}", shown ? "\n" : "");
	if (indent)
		return;
	printf("%*s", indent, "");
}

static void json_message(const ProtobufCMessage *m, int indent)
{
	json_fields(m, indent, NULL);
}

void ctl_print_json_field(const ProtobufCMessage *m, const char *field)
{
	json_fields(m, 0, field);
	putchar('\n');
}

/* ------------------------------------------------------------------ output: tables */

/* Follow "a.b.c" through single message fields; returns the field and where it lives. */
static const ProtobufCFieldDescriptor *resolve(const ProtobufCMessage *m, const char *path,
					       const ProtobufCMessage **owner)
{
	char part[64];
	while (m) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, path, n);
		part[n] = 0;
		const ProtobufCFieldDescriptor *f =
			protobuf_c_message_descriptor_get_field_by_name(m->descriptor, part);
		if (!f)
			return NULL;
		if (!dot) {
			*owner = m;
			return f;
		}
		if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
			return NULL;
		m = *(const ProtobufCMessage *const *)field_ptr(m, f, 0);
		path = dot + 1;
	}
	return NULL;
}

/* A cell of row: the field at path ("a.b.c"), or with "#path" the number of entries of a repeated
 * field. */
static void cell_text(const ProtobufCMessage *row, const char *path, char *buf, size_t len)
{
	const ProtobufCMessage *owner = NULL;
	const bool count = path[0] == '#';
	const ProtobufCFieldDescriptor *f = resolve(row, path + count, &owner);
	buf[0] = 0;
	if (!f)
		return;
	if (count) {
		snprintf(buf, len, "%zu", field_count(owner, f));
		return;
	}
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = field_count(owner, f), off = 0;
		for (size_t k = 0; k < n && off + 1 < len; k++) {
			char v[128];
			const char *t = scalar_text(f, field_ptr(owner, f, k), v, sizeof(v));
			off += (size_t)snprintf(buf + off, len - off, "%s%s", k ? "," : "",
						t ? t : "...");
		}
		return;
	}
	if (!scalar_text(f, field_ptr(owner, f, 0), buf, len))
		snprintf(buf, len, "...");
	if (!buf[0])
		snprintf(buf, len, "-");
}

/* Default columns: scalar fields of the row type, one level into single sub-messages. */
static size_t auto_cols(const ProtobufCMessageDescriptor *d, const char *prefix,
			char cols[][80], size_t max, size_t n)
{
	for (unsigned i = 0; i < d->n_fields && n < max; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			if (f->label != PROTOBUF_C_LABEL_REPEATED && !prefix[0]) {
				char p[80];
				snprintf(p, sizeof(p), "%s.", f->name);
				n = auto_cols(f->descriptor, p, cols, max, n);
			}
			continue;
		}
		snprintf(cols[n++], 80, "%s%s", prefix, f->name);
	}
	return n;
}

void ctl_print_table(const ProtobufCMessage *const *rows, size_t nrows,
		     const ProtobufCMessageDescriptor *rowd, const char *const *given, int indent)
{
	char cols[32][80], heads[32][32];
	size_t ncols = 0;
	if (given) {
		for (; given[ncols] && ncols < 32; ncols++) {
			const char *eq = strchr(given[ncols], '=');
			snprintf(cols[ncols], sizeof(cols[0]), "%.*s", (int)(eq - given[ncols]),
				 given[ncols]);
			snprintf(heads[ncols], sizeof(heads[0]), "%s", eq + 1);
		}
	} else {
		ncols = auto_cols(rowd, "", cols, 32, 0);
		for (size_t c = 0; c < ncols; c++) {
			const char *last = strrchr(cols[c], '.');
			last = last ? last + 1 : cols[c];
			size_t k;
			for (k = 0; last[k] && k + 1 < sizeof(heads[0]); k++)
				heads[c][k] = (char)(last[k] >= 'a' && last[k] <= 'z' ? last[k] - 32
										: last[k]);
			heads[c][k] = 0;
		}
	}
	size_t width[32];
	for (size_t c = 0; c < ncols; c++)
		width[c] = strlen(heads[c]);
	char cell[256];
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++) {
			cell_text(rows[r], cols[c], cell, sizeof(cell));
			if (strlen(cell) > width[c])
				width[c] = strlen(cell);
		}
	printf("%*s", indent, "");
	for (size_t c = 0; c < ncols; c++)
		printf("%-*s%s", (int)width[c], heads[c], c + 1 < ncols ? "  " : "\n");
	for (size_t r = 0; r < nrows; r++) {
		printf("%*s", indent, "");
		for (size_t c = 0; c < ncols; c++) {
			cell_text(rows[r], cols[c], cell, sizeof(cell));
			printf("%-*s%s", (int)width[c], cell, c + 1 < ncols ? "  " : "\n");
		}
	}
}

/* The columns of the workers' table, for people: counters and what they give. */
enum { WK_ID, WK_LCORE, WK_POLLS, WK_BUSY, WK_PACKETS, WK_CPP, WK_BURSTS, WK_P50, WK_P99, WK_P999, WK_MAX,
       WK_N };

static void worker_row(const Riov__V1__WorkerCounters *w, char cell[WK_N][32])
{
	const uint64_t all = w->busy_cycles + w->idle_cycles;
	struct ctl_latency_bucket *b = calloc(w->n_latency_buckets + 1, sizeof(*b));
	const size_t nb = b != NULL ? w->n_latency_buckets : 0;
	static const unsigned pm[] = { [WK_P50] = 500, [WK_P99] = 990, [WK_P999] = 999, [WK_MAX] = 1000 };

	snprintf(cell[WK_ID], 32, "%" PRIu32, w->id);
	snprintf(cell[WK_LCORE], 32, "%" PRIu32, w->lcore);
	snprintf(cell[WK_POLLS], 32, "%" PRIu64, w->polls);
	snprintf(cell[WK_BUSY], 32, "%.1f%%", all ? 100.0 * (double)w->busy_cycles / (double)all : 0.0);
	snprintf(cell[WK_PACKETS], 32, "%" PRIu64, w->packets);
	if (w->packets)
		snprintf(cell[WK_CPP], 32, "%.0f", (double)w->busy_cycles / (double)w->packets);
	else
		snprintf(cell[WK_CPP], 32, "-");
	snprintf(cell[WK_BURSTS], 32, "%" PRIu64, w->bursts);
	for (size_t i = 0; i < nb; i++) {
		b[i].le_ns = w->latency_buckets[i]->le_ns;
		b[i].count = w->latency_buckets[i]->count;
	}
	for (int c = WK_P50; c <= WK_MAX; c++) {
		uint64_t ns = ctl_latency_percentile(b, nb, w->latency_max_ns, pm[c]);
		if (ns == 0)
			snprintf(cell[c], 32, "-");   /* no bursts (or a riovd without the histogram) */
		else
			ctl_latency_text(ns, cell[c], 32);
	}
	free(b);
}

/* Workers: their counters, cycles per packet (busy cycles / packets) and the percentiles of their
 * latency histograms. */
static void print_workers(Riov__V1__WorkerCounters *const *w, size_t n, int indent)
{
	static const char *const head[WK_N] = { "ID", "LCORE", "POLLS", "BUSY", "PACKETS", "CYCLES/PKT",
						"BURSTS", "LAT_P50", "LAT_P99", "LAT_P99.9", "LAT_MAX" };
	size_t width[WK_N];
	char cell[WK_N][32];

	for (size_t c = 0; c < WK_N; c++)
		width[c] = strlen(head[c]);
	for (size_t k = 0; k < n; k++) {
		worker_row(w[k], cell);
		for (size_t c = 0; c < WK_N; c++)
			if (strlen(cell[c]) > width[c])
				width[c] = strlen(cell[c]);
	}
	printf("%*s", indent, "");
	for (size_t c = 0; c < WK_N; c++)
		printf("%-*s%s", c + 1 < WK_N ? (int)width[c] : 0, head[c], c + 1 < WK_N ? "  " : "\n");
	for (size_t k = 0; k < n; k++) {
		worker_row(w[k], cell);
		printf("%*s", indent, "");
		for (size_t c = 0; c < WK_N; c++)
			printf("%-*s%s", c + 1 < WK_N ? (int)width[c] : 0, cell[c], c + 1 < WK_N ? "  " : "\n");
	}
}

void ctl_print_workers(const Riov__V1__MetricsSnapshot *s)
{
	if (s->n_workers)
		print_workers(s->workers, s->n_workers, 0);
}

/* Key: value lines; nested messages indented; repeated messages as tables. */
void ctl_print_kv(const ProtobufCMessage *m, int indent)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	char buf[256];
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			if (f->label == PROTOBUF_C_LABEL_REPEATED) {
				size_t n = field_count(m, f);
				printf("%*s%s: %zu\n", indent, "", f->name, n);
				if (n && f->descriptor == &riov__v1__worker_counters__descriptor)
					print_workers((Riov__V1__WorkerCounters *const *)field_ptr(m, f, 0), n,
						      indent + 2);
				else if (n)
					ctl_print_table((const ProtobufCMessage *const *)field_ptr(m, f, 0),
							n, f->descriptor, NULL, indent + 2);
			} else {
				const ProtobufCMessage *sub =
					*(const ProtobufCMessage *const *)field_ptr(m, f, 0);
				if (!sub)
					continue;
				printf("%*s%s:\n", indent, "", f->name);
				ctl_print_kv(sub, indent + 2);
			}
			continue;
		}
		cell_text(m, f->name, buf, sizeof(buf));
		printf("%*s%-14s %s\n", indent, "", f->name, buf);
	}
}

void ctl_print_answer(const ProtobufCMessage *m, const char *const *cols)
{
	if (ctl_json_out) {
		json_message(m, 0);
		putchar('\n');
		return;
	}
	const ProtobufCMessageDescriptor *d = m->descriptor;
	/* An answer that is one list prints as a table. */
	if (d->n_fields == 1 && d->fields[0].label == PROTOBUF_C_LABEL_REPEATED &&
	    d->fields[0].type == PROTOBUF_C_TYPE_MESSAGE) {
		const ProtobufCFieldDescriptor *f = &d->fields[0];
		size_t n = field_count(m, f);
		if (n == 0) {
			printf("(no %s)\n", f->name);
			return;
		}
		ctl_print_table((const ProtobufCMessage *const *)field_ptr(m, f, 0), n, f->descriptor,
				cols, 0);
		return;
	}
	if (d->n_fields == 0) {
		printf("ok\n");
		return;
	}
	ctl_print_kv(m, 0);
}

/* "drops: cause N, cause N" (or "none"), the non-zero causes riovd sent. */
static void print_drops(const char *what, Riov__V1__DropCounter *const *d, size_t n)
{
	printf("%s:%s", what, n ? "" : " none");
	for (size_t k = 0; k < n; k++)
		printf("%s %s %" PRIu64, k ? "," : "", d[k]->cause ? d[k]->cause : "?", d[k]->packets);
	putchar('\n');
}

/* A vhost port's counters eth ports do not have, a line per theme: its vhost-user sessions; guest
 * memory and migration; the vIOMMU's IOTLB. Printed as "field value" with the JSON names. */
static const char *const vhost_session_lines[][7] = {
	{ "vhost_connects", "vhost_disconnects", "vhost_messages", "vhost_bad_messages",
	  "vhost_refused", NULL },
	{ "memory_faults", "vring_base_resyncs", "dirty_log_writes", "announces", NULL },
	{ "iotlb_updates", "iotlb_invalidations", "iotlb_miss_requests", "iotlb_waits",
	  "iotlb_refused", "iotlb_evictions", NULL },
	{ "offload_frames_in", "offload_frames_out", "sw_checksums", "sw_segmented", "sw_segments", NULL },
};

static void print_vhost_session(const Riov__V1__PortCounters *pc)
{
	char v[64];

	printf("\nvhost session:\n");
	for (size_t l = 0; l < sizeof(vhost_session_lines) / sizeof(vhost_session_lines[0]); l++) {
		printf(" ");
		for (size_t k = 0; vhost_session_lines[l][k]; k++) {
			cell_text(&pc->base, vhost_session_lines[l][k], v, sizeof(v));
			printf("%s %s %s", k ? "," : "", vhost_session_lines[l][k], v);
		}
		putchar('\n');
	}
}

/* A named port's details after its line: drops by cause and, for a vhost port (it has queue
 * pairs), its vhost session counters and its queue pairs (table columns queue_cols) with their
 * own drops. */
void ctl_print_port_detail(const Riov__V1__PortCounters *pc, const char *const *queue_cols)
{
	putchar('\n');
	print_drops("drops by cause", pc->drops, pc->n_drops);
	if (pc->n_queues == 0)
		return;
	print_vhost_session(pc);
	printf("\nqueue pairs (rx: from the guest, its TX vring; tx: to the guest, its RX vring):\n");
	ctl_print_table((const ProtobufCMessage *const *)pc->queues, pc->n_queues,
			&riov__v1__queue_counters__descriptor, queue_cols, 2);
	for (size_t q = 0; q < pc->n_queues; q++) {
		char what[32];
		if (pc->queues[q]->n_drops == 0)
			continue;
		snprintf(what, sizeof(what), "  queue %" PRIu32 " drops", pc->queues[q]->queue);
		print_drops(what, pc->queues[q]->drops, pc->queues[q]->n_drops);
	}
}

/* The columns of `net vtep list`, for people. */
enum { VT_NET, VT_ADDR, VT_ORIGIN, VT_RESOLVED, VT_UPLINK, VT_NEXT_HOP, VT_TX, VT_RX, VT_DROPPED, VT_TRANSPORT,
       VT_RDMA, VT_N };

static void vtep_row(const char *net, const Riov__V1__VtepInfo *v, char cell[VT_N][80])
{
	snprintf(cell[VT_NET], 80, "%s", net);
	snprintf(cell[VT_ADDR], 80, "%s", v->address ? v->address : "");
	if (v->origin != NULL && strcmp(v->origin, "evpn") == 0) /* zebra's: flood list, MACs */
		snprintf(cell[VT_ORIGIN], 80, "evpn (%s%u macs)", v->flood ? "flood, " : "", v->evpn_macs);
	else
		snprintf(cell[VT_ORIGIN], 80, "%s", v->origin && v->origin[0] ? v->origin : "static");
	snprintf(cell[VT_RESOLVED], 80, "%s", v->resolved ? "yes" : "no");
	snprintf(cell[VT_UPLINK], 80, "%s", v->resolved && v->uplink && v->uplink[0] ? v->uplink : "-");
	snprintf(cell[VT_NEXT_HOP], 80, "%s",
		 v->resolved && v->next_hop_mac && v->next_hop_mac[0] ? v->next_hop_mac : "-");
	snprintf(cell[VT_TX], 80, "%" PRIu64, v->tx_packets);
	snprintf(cell[VT_RX], 80, "%" PRIu64, v->rx_packets);
	snprintf(cell[VT_DROPPED], 80, "%" PRIu64, v->dropped);
	/* the transport its frames take now, and its RDMA link's state ("-": none) */
	snprintf(cell[VT_TRANSPORT], 80, "%s", v->transport && v->transport[0] ? v->transport : "vxlan");
	snprintf(cell[VT_RDMA], 80, "%s", v->rdma_state && v->rdma_state[0] ? v->rdma_state : "-");
}

/* A network's overlay totals, one line: "NET: VNI N totals: tx ..., rx ..., dropped D (cause n, ...)". */
static void print_vni_totals(const char *net, const Riov__V1__VniCounters *o)
{
	printf("%s: VNI %" PRIu32 " totals: tx %" PRIu64 " packets (%" PRIu64 " bytes), rx %" PRIu64
	       " packets (%" PRIu64 " bytes), dropped %" PRIu64, net, o->vni, o->tx_packets, o->tx_bytes,
	       o->rx_packets, o->rx_bytes, o->dropped);
	for (size_t k = 0; k < o->n_drops; k++)
		printf("%s%s %" PRIu64, k ? ", " : " (", o->drops[k]->cause ? o->drops[k]->cause : "?",
		       o->drops[k]->packets);
	printf("%s\n", o->n_drops ? ")" : "");
}

void ctl_print_vteps(const Riov__V1__NetworkListResponse *r)
{
	static const char *const head[VT_N] = { "NET", "VTEP", "ORIGIN", "RESOLVED", "UPLINK", "NEXT_HOP",
						"TX_PKTS", "RX_PKTS", "DROPPED", "TRANSPORT", "RDMA" };
	size_t width[VT_N], rows = 0;
	char cell[VT_N][80];

	for (size_t c = 0; c < VT_N; c++)
		width[c] = strlen(head[c]);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if (rows == 0) {
				printf("(no vteps)\n");
				break;
			}
			for (size_t c = 0; c < VT_N; c++)
				printf("%-*s%s", (int)width[c], head[c], c + 1 < VT_N ? "  " : "\n");
		}
		for (size_t i = 0; i < r->n_networks; i++) {
			const Riov__V1__NetworkInfo *ni = r->networks[i];
			const char *net = ni->spec && ni->spec->name ? ni->spec->name : "?";
			for (size_t k = 0; k < ni->n_vteps; k++) {
				vtep_row(net, ni->vteps[k], cell);
				for (size_t c = 0; c < VT_N; c++) {
					if (pass == 0 && strlen(cell[c]) > width[c])
						width[c] = strlen(cell[c]);
					if (pass == 1)
						printf("%-*s%s", (int)width[c], cell[c],
						       c + 1 < VT_N ? "  " : "\n");
				}
				rows += pass == 0;
			}
		}
	}
	for (size_t i = 0; i < r->n_networks; i++) {
		const Riov__V1__NetworkInfo *ni = r->networks[i];
		if (ni->overlay != NULL)
			print_vni_totals(ni->spec && ni->spec->name ? ni->spec->name : "?", ni->overlay);
	}
}

/* The columns of `net mac list`, for people. */
enum { MC_MAC, MC_PORT, MC_KIND, MC_WHERE, MC_N };

static void mac_row(const Riov__V1__MacEntry *e, char cell[MC_N][80])
{
	snprintf(cell[MC_MAC], 80, "%s", e->mac ? e->mac : "");
	snprintf(cell[MC_PORT], 80, "%s", e->port && e->port[0] ? e->port : "-");
	snprintf(cell[MC_KIND], 80, "%s%s", e->evpn ? "evpn" : e->learned ? "learned" : "static",
		 e->pending ? " (pending: no such port now)" : "");
	if (e->remote)
		snprintf(cell[MC_WHERE], 80, "remote %s", e->vtep ? e->vtep : "");
	else /* a guest's (vhost), else behind an eth port (what a pending one will be is not known) */
		snprintf(cell[MC_WHERE], 80, "%s", e->local ? "local" : e->pending ? "-" : "eth");
}

void ctl_print_macs(const Riov__V1__NetworkListMacsResponse *r)
{
	static const char *const head[MC_N] = { "MAC", "PORT", "ENTRY", "WHERE" };
	size_t width[MC_N];
	char cell[MC_N][80];

	if (r->n_macs == 0) {
		printf("(no macs)\n");
		return;
	}
	for (size_t c = 0; c < MC_N; c++)
		width[c] = strlen(head[c]);
	for (size_t k = 0; k < r->n_macs; k++) {
		mac_row(r->macs[k], cell);
		for (size_t c = 0; c < MC_N; c++)
			if (strlen(cell[c]) > width[c])
				width[c] = strlen(cell[c]);
	}
	for (size_t c = 0; c < MC_N; c++) /* the last column unpadded */
		printf("%-*s%s", c + 1 < MC_N ? (int)width[c] : 0, head[c], c + 1 < MC_N ? "  " : "\n");
	for (size_t k = 0; k < r->n_macs; k++) {
		mac_row(r->macs[k], cell);
		for (size_t c = 0; c < MC_N; c++)
			printf("%-*s%s", c + 1 < MC_N ? (int)width[c] : 0, cell[c],
			       c + 1 < MC_N ? "  " : "\n");
	}
}
