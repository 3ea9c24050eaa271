/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov.v1.Metrics: snapshots of every counter, once or as a stream.
 *
 * Security model: requests come from RPC clients that passed the server's transport and role
 * checks (control/rpc_server.h), but their content is untrusted: a stream's interval is clamped
 * to [WATCH_MIN_MS, WATCH_MAX_MS] and the RPC server bounds streams per connection.
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
#include <time.h>

#include "control/service_internal.h"

#define WATCH_MIN_MS 100u
#define WATCH_MAX_MS 60000u

/* Wall-clock time for MetricsSnapshot.timestamp_ns (CLOCK_REALTIME, as riov.proto says); intervals
 * are measured on CLOCK_MONOTONIC elsewhere. */
static uint64_t wall_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t uptime_s(const struct riov_service *svc)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)(ts.tv_sec - svc->started.tv_sec);
}

static uint64_t faults_total(const struct riov_vtd_fault_stats *fs)
{
	uint64_t t = 0;
	for (size_t i = 0; i < sizeof(fs->by_reason) / sizeof(fs->by_reason[0]); i++)
		t += fs->by_reason[i];
	return t;
}

/* A worker's latency histogram as w's latency fields: the buckets that counted something. */
static int fill_latency(struct riov_rpc_call *call, Riov__V1__WorkerCounters *w, const struct riov_loop_hist *h)
{
	unsigned nb = 0;

	for (unsigned b = 0; b < RIOV_LOOP_HIST_BUCKETS; b++)
		nb += h->count[b] != 0;
	w->latency_sum_ns = h->sum_ns;
	w->latency_max_ns = h->max_ns;
	if (nb == 0)
		return 0;
	w->latency_buckets = riov_rpc_call_alloc(call, nb * sizeof(*w->latency_buckets));
	if (w->latency_buckets == NULL)
		return -ENOMEM;
	for (unsigned b = 0; b < RIOV_LOOP_HIST_BUCKETS; b++) {
		if (h->count[b] == 0)
			continue;
		Riov__V1__LatencyBucket *lb = CALL_NEW(call, Riov__V1__LatencyBucket,
						       riov__v1__latency_bucket__init);
		if (lb == NULL)
			return -ENOMEM;
		lb->le_ns = riov_loop_hist_le_ns(b);
		lb->count = h->count[b];
		w->bursts += h->count[b];   /* from the same copy: always the buckets' sum */
		w->latency_buckets[w->n_latency_buckets++] = lb;
	}
	return 0;
}

static int fill_snapshot(struct riov_rpc_call *call, struct riov_service *svc, Riov__V1__MetricsSnapshot **out)
{
	Riov__V1__MetricsSnapshot *s = CALL_NEW(call, Riov__V1__MetricsSnapshot,
						riov__v1__metrics_snapshot__init);
	struct riov_dp_worker_stats ws[RIOV_DP_MAX_WORKERS];
	struct riov_vtd_fault_stats fs;

	if (s == NULL)
		return -ENOMEM;
	if (svc->kmsg != NULL)
		riov_kmsg_poll(svc->kmsg); /* faults the kernel logged for assigned functions */
	s->timestamp_ns = wall_clock_ns();
	s->uptime_s = uptime_s(svc);
	int rc = svc_port_counters(call, svc, NULL, &s->ports, &s->n_ports);
	if (rc != 0)
		return rc;
	unsigned nw = riov_dp_worker_stats(svc->dp, ws, RIOV_DP_MAX_WORKERS);
	s->workers = riov_rpc_call_alloc(call, (nw + 1) * sizeof(*s->workers));
	if (s->workers == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < nw; i++) {
		Riov__V1__WorkerCounters *w = CALL_NEW(call, Riov__V1__WorkerCounters,
						       riov__v1__worker_counters__init);
		if (w == NULL)
			return -ENOMEM;
		w->id = i;
		w->lcore = ws[i].lcore;
		w->polls = ws[i].loops;
		w->busy_polls = ws[i].busy_loops;
		w->packets = ws[i].packets;
		w->busy_cycles = ws[i].busy_cycles;
		w->idle_cycles = ws[i].idle_cycles;
		rc = fill_latency(call, w, &ws[i].latency);
		if (rc != 0)
			return rc;
		s->workers[s->n_workers++] = w;
	}
	s->tsc_hz = riov_dp_tsc_hz(svc->dp);
	riov_vtd_fault_stats(svc->vtd, &fs);
	s->faults = faults_total(&fs);
	*out = s;
	return 0;
}

static int h_metrics_snapshot(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			      ProtobufCMessage **resp, char *msg, size_t msglen)
{
	Riov__V1__MetricsSnapshotResponse *r = CALL_NEW(call, Riov__V1__MetricsSnapshotResponse,
							riov__v1__metrics_snapshot_response__init);
	if (r == NULL)
		return -ENOMEM;
	int rc = fill_snapshot(call, riov_rpc_call_user(call), &r->snapshot);
	if (rc != 0)
		return rc;
	*resp = &r->base;
	return 0;
}

static int h_metrics_watch(struct riov_rpc_call *call, const ProtobufCMessage *reqm,
			   ProtobufCMessage **resp, char *msg, size_t msglen)
{
	const Riov__V1__MetricsWatchRequest *req = (const void *)reqm;
	unsigned iv = req->interval_ms ? req->interval_ms : 1000;

	iv = iv < WATCH_MIN_MS ? WATCH_MIN_MS : iv > WATCH_MAX_MS ? WATCH_MAX_MS : iv;
	riov_rpc_call_set_interval(call, iv);
	Riov__V1__MetricsWatchResponse *r = CALL_NEW(call, Riov__V1__MetricsWatchResponse,
						     riov__v1__metrics_watch_response__init);
	if (r == NULL)
		return -ENOMEM;
	int rc = fill_snapshot(call, riov_rpc_call_user(call), &r->snapshot);
	if (rc != 0)
		return rc;
	if (req->count && riov_rpc_call_stream_seq(call) + 1 >= req->count)
		riov_rpc_call_end_stream(call);
	*resp = &r->base;
	return 0;
}

static const struct svc_method metrics_methods[] = {
	SVC_METHOD(Metrics, snapshot, READONLY, h_metrics_snapshot),
	SVC_METHOD(Metrics, watch, READONLY, h_metrics_watch),
};
SVC_TABLE(svc_metrics_table, Metrics, metrics_methods);
