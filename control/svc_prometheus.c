/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riovd's Prometheus collector (control/metrics_http.h serves it): ports (remote VTEPs' too) and
 * their queue pairs, remote VTEPs' next hops, overlay networks' totals, MACs aged out, vhost ports' sessions, the VT-d unit's faults and
 * interrupts, workers, the state generation and the RPC server's own metrics. Label values (port
 * and network names) are escaped by metrics_http.c.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "control/metrics_http.h"
#include "control/service_internal.h"

struct port_array {
	struct riov_dp_port_stats *v;
	size_t n, cap;
};

static void port_array_add(void *arg, const struct riov_dp_port_stats *st)
{
	struct port_array *a = arg;
	if (a->n < a->cap)
		a->v[a->n++] = *st;
}

/* A counter of riov_dp_port_stats at field_off, a sample per port (vhost_only: per vhost port). */
static void port_metric_of(struct evbuffer *out, const struct port_array *pa, const char *name,
			   const char *help, size_t field_off, bool vhost_only)
{
	riov_metrics_header(out, name, help, "counter");
	for (size_t i = 0; i < pa->n; i++) {
		if (vhost_only && pa->v[i].type != RIOV_DP_PORT_VHOST)
			continue;
		const char *labels[] = { "port", pa->v[i].name, "net", pa->v[i].net };
		uint64_t v;
		memcpy(&v, (const char *)&pa->v[i] + field_off, sizeof(v));
		riov_metrics_sample_u64(out, name, labels, 2, v);
	}
}

static void port_metric(struct evbuffer *out, const struct port_array *pa, const char *name,
			const char *help, size_t field_off)
{
	port_metric_of(out, pa, name, help, field_off, false);
}

#define COUNTER_(field, name, help, vhost_only)                                                \
	{ name, help, offsetof(struct riov_dp_port_stats, field), vhost_only }
/* What only vhost ports count (their guests' migrations and vIOMMU, their vhost-user sessions:
 * riov_dp_vhost_stats; eth ports have no sample), and what every port counts. */
#define VHOST_COUNTER(field, name, help) COUNTER_(field, name, help, true)
#define ANY_COUNTER(field, name, help) COUNTER_(field, name, help, false)

static const struct {
	const char *name, *help;
	size_t off;
	bool vhost_only;
} port_counters[] = {
	VHOST_COUNTER(iotlb_waits, "riov_port_iotlb_waits_total", "Times a vring of a vhost port "
		      "waited for its front-end's IOTLB update (a vIOMMU guest's buffer had no "
		      "translation yet)."),
	VHOST_COUNTER(dirty_log_writes, "riov_port_dirty_log_writes_total", "Writes to a vhost "
		      "port's guest memory marked in its front-end's dirty log (live migration)."),
	VHOST_COUNTER(announces, "riov_port_announces_total", "RARPs sent for a vhost port's guest "
		      "after its front-end announced it (a live migration landed here)."),
	VHOST_COUNTER(vhost.connects, "riov_port_vhost_connects_total", "vhost-user front-end "
		      "connections of a port, taken (server) or made (client)."),
	VHOST_COUNTER(vhost.disconnects, "riov_port_vhost_disconnects_total",
		      "vhost-user sessions of a port that ended, whoever ended them."),
	VHOST_COUNTER(vhost.messages, "riov_port_vhost_messages_total",
		      "vhost-user messages a port's device handled."),
	VHOST_COUNTER(vhost.bad_messages, "riov_port_vhost_bad_messages_total", "vhost-user "
		      "messages that ended a port's session (malformed or out of order)."),
	VHOST_COUNTER(vhost.refused, "riov_port_vhost_refused_total", "Well-formed vhost-user "
		      "requests refused with the session kept (memory regions that overlap, do not "
		      "fit or are not there, IOTLB messages, a SEND_RARP of a bad address)."),
	VHOST_COUNTER(vhost.memory_faults, "riov_port_memory_faults_total", "Guest memory of a "
		      "vhost port that faulted under riovd (a file the front-end shrank); each ended "
		      "the session."),
	VHOST_COUNTER(vhost.iotlb_refused, "riov_port_iotlb_refused_total", "IOTLB updates of a "
		      "vhost port's front-end refused (too large, outside guest memory)."),
	VHOST_COUNTER(vhost.iotlb_evictions, "riov_port_iotlb_evictions_total", "Times a vhost "
		      "port's first-stage IOTLB was emptied or an invalidation widened to stay within "
		      "its page-table limit."),
	VHOST_COUNTER(vhost.iotlb_updates, "riov_port_iotlb_updates_total", "IOTLB updates of a "
		      "vhost port's front-end taken into the first stage (its guest's vIOMMU mapped "
		      "something)."),
	VHOST_COUNTER(vhost.iotlb_invalidations, "riov_port_iotlb_invalidations_total", "IOTLB "
		      "invalidations of a vhost port's front-end handled (its guest's vIOMMU unmapped "
		      "something)."),
	VHOST_COUNTER(vhost.iotlb_miss_requests, "riov_port_iotlb_miss_requests_total", "IOTLB "
		      "misses riovd sent a vhost port's front-end (a vring's rings or a buffer had no "
		      "translation yet)."),
	VHOST_COUNTER(vhost.base_resyncs, "riov_port_vring_base_resyncs_total", "Vrings of a vhost "
		      "port started from the used ring's index (a packed ring: riovd's record of it) instead of "
		      "the base its front-end sent."),
	/* checksum and segmentation offloads through a port */
	ANY_COUNTER(ol.frames_in, "riov_port_offload_frames_in_total", "Frames taken from a port "
		    "with a partial checksum or TSO (a guest's virtio-net header; for an eth port, the TSO "
		    "frames its TCP segments were coalesced into)."),
	ANY_COUNTER(ol.frames_out, "riov_port_offload_frames_out_total", "Frames with a partial "
		    "checksum or TSO passed whole to a port whose guest or device takes them."),
	ANY_COUNTER(ol.sw_checksums, "riov_port_sw_checksums_total", "Checksums riovd filled in "
		    "for a port that takes no partial checksum."),
	ANY_COUNTER(ol.sw_segmented, "riov_port_sw_segmented_total", "TSO frames riovd cut into "
		    "segments of a port's MTU."),
	ANY_COUNTER(ol.sw_segments, "riov_port_sw_segments_total", "Segments riovd made for a "
		    "port from TSO frames."),
};

/* One queue pair of a vhost port in a scrape. */
struct queue_row {
	const struct riov_dp_port_stats *port;
	struct riov_dp_queue_stats q;
};

/* The queue pairs of pa's vhost ports (eth ports have none); *n rows, NULL when out of memory. */
static struct queue_row *queue_rows(struct riov_dp *dp, const struct port_array *pa, size_t *n)
{
	struct riov_dp_queue_stats qs[RIOV_DP_MAX_QUEUE_PAIRS];
	size_t cap = 0;

	*n = 0;
	for (size_t i = 0; i < pa->n; i++)
		cap += pa->v[i].type == RIOV_DP_PORT_VHOST ? pa->v[i].queues : 0;
	struct queue_row *v = calloc(cap + 1, sizeof(*v));
	for (size_t i = 0; v != NULL && i < pa->n; i++) {
		if (pa->v[i].type != RIOV_DP_PORT_VHOST)
			continue;
		int k = riov_dp_port_queue_stats(dp, pa->v[i].name, qs, RIOV_DP_MAX_QUEUE_PAIRS);
		for (int j = 0; j < k && *n < cap; j++)
			v[(*n)++] = (struct queue_row){ .port = &pa->v[i], .q = qs[j] };
	}
	return v;
}

typedef uint64_t (*queue_value_fn)(const struct riov_dp_queue_stats *q, bool tx);

/* One per-queue metric, a sample per queue pair and direction (rx: from the guest, tx: to it). */
static void queue_metric(struct evbuffer *out, const struct queue_row *v, size_t n, const char *name,
			 const char *help, const char *type, queue_value_fn get)
{
	char q[8];

	riov_metrics_header(out, name, help, type);
	for (size_t i = 0; i < n; i++) {
		snprintf(q, sizeof(q), "%u", v[i].q.queue);
		for (int tx = 0; tx < 2; tx++) {
			const char *labels[] = { "port", v[i].port->name, "net", v[i].port->net, "queue", q,
						 "direction", tx ? "tx" : "rx" };
			riov_metrics_sample_u64(out, name, labels, 4, get(&v[i].q, tx));
		}
	}
}

static uint64_t q_packets(const struct riov_dp_queue_stats *q, bool tx)
{
	return tx ? q->tx_packets : q->rx_packets;
}

static uint64_t q_bytes(const struct riov_dp_queue_stats *q, bool tx)
{
	return tx ? q->tx_bytes : q->rx_bytes;
}

static uint64_t q_running(const struct riov_dp_queue_stats *q, bool tx)
{
	return tx ? q->tx_running : q->rx_running;
}

static void queue_metrics(struct evbuffer *out, struct riov_dp *dp, const struct port_array *pa)
{
	size_t n;
	struct queue_row *v = queue_rows(dp, pa, &n);

	queue_metric(out, v, n, "riov_port_queue_packets_total",
		     "Packets of a vhost port's queue pair: rx from the guest (its TX vring), tx to it.",
		     "counter", q_packets);
	queue_metric(out, v, n, "riov_port_queue_bytes_total", "Bytes of a vhost port's queue pair.",
		     "counter", q_bytes);
	queue_metric(out, v, n, "riov_port_queue_running",
		     "1 while the vring of a queue pair and direction is set up and served.", "gauge",
		     q_running);
	free(v);
}

/* A counter of riov_dp_worker_stats at field_off, a sample per worker. */
static void worker_counter(struct evbuffer *out, const struct riov_dp_worker_stats *ws, unsigned nw,
			   const char *name, const char *help, size_t field_off)
{
	char label[16];
	const char *labels[] = { "worker", label };

	riov_metrics_header(out, name, help, "counter");
	for (unsigned w = 0; w < nw; w++) {
		uint64_t v;
		memcpy(&v, (const char *)&ws[w] + field_off, sizeof(v));
		snprintf(label, sizeof(label), "%u", w);
		riov_metrics_sample_u64(out, name, labels, 1, v);
	}
}

/* riov_worker_loop_latency_seconds: each worker's latency histogram (dataplane/loop_hist.h) at
 * the bounds that are powers of two, from 64 ns to 2^30 ns, and +Inf: cumulative counts that
 * are exact (each such bound ends one of its buckets). riovctl stats has every bucket. */
static void worker_latency(struct evbuffer *out, const struct riov_dp_worker_stats *ws, unsigned nw)
{
	static const char name[] = "riov_worker_loop_latency_seconds";
	char label[16], le[32];
	const char *labels[] = { "worker", label, "le", le };

	riov_metrics_header(out, name, "Time from a worker's taking a burst from its input to handing "
			    "its last frame on, per burst.", "histogram");
	for (unsigned w = 0; w < nw; w++) {
		const struct riov_loop_hist *h = &ws[w].latency;
		uint64_t cum = 0;
		snprintf(label, sizeof(label), "%u", w);
		for (unsigned b = 0; b < RIOV_LOOP_HIST_BUCKETS; b++) {
			const uint64_t bound = riov_loop_hist_le_ns(b);
			cum += h->count[b];
			if (bound == UINT64_MAX)
				snprintf(le, sizeof(le), "+Inf");
			else if ((bound & (bound - 1)) == 0)
				snprintf(le, sizeof(le), "%.10g", (double)bound * 1e-9);
			else
				continue;
			riov_metrics_sample_u64(out, "riov_worker_loop_latency_seconds_bucket", labels, 2, cum);
		}
		riov_metrics_sample_double(out, "riov_worker_loop_latency_seconds_sum", labels, 1,
					   (double)h->sum_ns * 1e-9);
		riov_metrics_sample_u64(out, "riov_worker_loop_latency_seconds_count", labels, 1, cum);
	}
}

/* The workers' own counters (riov_dp_worker_stats). */
static void worker_metrics(struct evbuffer *out, struct riov_dp *dp)
{
	struct riov_dp_worker_stats ws[RIOV_DP_MAX_WORKERS];
	const unsigned nw = riov_dp_worker_stats(dp, ws, RIOV_DP_MAX_WORKERS);
	char label[16];
	const char *labels[] = { "worker", label };

	riov_metrics_header(out, "riov_worker_busy_ratio",
			    "Share of a worker's cycles spent in loops that found work, since start.", "gauge");
	for (unsigned w = 0; w < nw; w++) {
		uint64_t all = ws[w].busy_cycles + ws[w].idle_cycles;
		snprintf(label, sizeof(label), "%u", w);
		riov_metrics_sample_double(out, "riov_worker_busy_ratio", labels, 1,
					   all ? (double)ws[w].busy_cycles / (double)all : 0.0);
	}
	worker_counter(out, ws, nw, "riov_worker_loops_total", "Poll loops a worker ran.",
		       offsetof(struct riov_dp_worker_stats, loops));
	worker_counter(out, ws, nw, "riov_worker_busy_cycles_total",
		       "TSC cycles of a worker's loops that moved frames.",
		       offsetof(struct riov_dp_worker_stats, busy_cycles));
	worker_counter(out, ws, nw, "riov_worker_idle_cycles_total",
		       "TSC cycles of a worker's loops that moved nothing.",
		       offsetof(struct riov_dp_worker_stats, idle_cycles));
	worker_counter(out, ws, nw, "riov_worker_packets_total",
		       "Frames a worker took from an input (guest TX vring, device RX queue, TAP, RDMA "
		       "link), each once; cycles per packet = busy cycles / packets.",
		       offsetof(struct riov_dp_worker_stats, packets));
	worker_latency(out, ws, nw);
}

void svc_prometheus_collect(struct evbuffer *out, void *arg)
{
	struct riov_service *svc = arg;
	/* the dataplane's ports: the desired state's, and one per remote VTEP ("<net>@<a.b.c.d>":
	 * '@' and '.' need no escaping in a label value) */
	struct port_array pa = { .cap = svc->n_ports + svc_vtep_count(svc) };
	struct riov_vtd_fault_stats fs;
	struct riov_vtd_irq_stats is;

	pa.v = calloc(pa.cap + 1, sizeof(*pa.v));
	if (pa.v != NULL)
		riov_dp_port_foreach(svc->dp, port_array_add, &pa);
	port_metric(out, &pa, "riov_port_rx_packets_total", "Packets received from a port (guest TX or wire).",
		    offsetof(struct riov_dp_port_stats, rx_packets));
	port_metric(out, &pa, "riov_port_tx_packets_total", "Packets sent to a port (guest RX or wire).",
		    offsetof(struct riov_dp_port_stats, tx_packets));
	port_metric(out, &pa, "riov_port_rx_bytes_total", "Bytes received from a port.",
		    offsetof(struct riov_dp_port_stats, rx_bytes));
	port_metric(out, &pa, "riov_port_tx_bytes_total", "Bytes sent to a port.",
		    offsetof(struct riov_dp_port_stats, tx_bytes));
	riov_metrics_header(out, "riov_port_drops_total", "Packets dropped, by port and cause.", "counter");
	for (size_t i = 0; i < pa.n; i++)
		for (unsigned d = 0; d < RIOV_DP_DROP__MAX; d++) {
			const char *labels[] = { "port", pa.v[i].name, "net", pa.v[i].net, "cause",
						 riov_dp_drop_names[d] };
			riov_metrics_sample_u64(out, "riov_port_drops_total", labels, 3, pa.v[i].drops[d]);
		}
	queue_metrics(out, svc->dp, &pa);
	port_metric(out, &pa, "riov_iotlb_hits_total",
		    "Guest address translations answered by a port's IOTLB cursors (last hit or IOTLB).",
		    offsetof(struct riov_dp_port_stats, iotlb_hits));
	port_metric(out, &pa, "riov_iotlb_misses_total", "Guest address translations that walked the page tables.",
		    offsetof(struct riov_dp_port_stats, iotlb_misses));
	port_metric(out, &pa, "riov_port_dma_faults_total", "DMA translations of a port that faulted.",
		    offsetof(struct riov_dp_port_stats, dma_faults));
	port_metric(out, &pa, "riov_interrupts_total", "Interrupts raised towards a port's guest.",
		    offsetof(struct riov_dp_port_stats, notifications));
	for (size_t k = 0; k < sizeof(port_counters) / sizeof(port_counters[0]); k++)
		port_metric_of(out, &pa, port_counters[k].name, port_counters[k].help, port_counters[k].off,
			       port_counters[k].vhost_only);
	free(pa.v);
	svc_fabric_metrics(out, svc);
	svc_rdma_metrics(out, svc);
	svc_evpn_metrics(out, svc);
	riov_metrics_header(out, "riov_macs_aged_total", "Learned MAC table entries removed by aging "
			    "(mac_aging_s without a frame from their address), every network.", "counter");
	riov_metrics_sample_u64(out, "riov_macs_aged_total", NULL, 0, svc->macs_aged);

	riov_vtd_fault_stats(svc->vtd, &fs);
	riov_metrics_header(out, "riov_iommu_faults_total", "VT-d faults of the node's remapping unit, by "
			    "fault reason (recorded, collapsed or suppressed).", "counter");
	for (size_t i = 0; i < svc_n_fault_reasons; i++) {
		const char *labels[] = { "reason", svc_fault_reasons[i].label };
		riov_metrics_sample_u64(out, "riov_iommu_faults_total", labels, 1,
					fs.by_reason[svc_fault_reasons[i].code]);
	}
	riov_metrics_header(out, "riov_iommu_fault_log_overflow_total",
			    "Faults not recorded because the fault log was full.", "counter");
	riov_metrics_sample_u64(out, "riov_iommu_fault_log_overflow_total", NULL, 0, fs.overflow);
	riov_vtd_irq_stats(svc->vtd, &is);
	riov_metrics_header(out, "riov_iommu_interrupts_delivered_total",
			    "Interrupts delivered through the interrupt-remapping table.", "counter");
	riov_metrics_sample_u64(out, "riov_iommu_interrupts_delivered_total", NULL, 0, is.delivered);

	worker_metrics(out, svc->dp);
	riov_metrics_header(out, "riov_state_generation", "Generation of the last state file written.",
			    "gauge");
	riov_metrics_sample_u64(out, "riov_state_generation", NULL, 0, svc->generation);
	riov_metrics_header(out, "riov_state_save_not_synced_total", "State writes kept whose "
			    "directory fsync failed.", "counter");
	riov_metrics_sample_u64(out, "riov_state_save_not_synced_total", NULL, 0, svc->save_not_synced);
	if (svc->rpc)
		riov_rpc_server_metrics(svc->rpc, out);
}
