/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lab smoke test of riov's RDMA peer link (dataplane/rdma_link.c) on a real verbs device (rxe0 in
 * the lab VM): two nodes in one process, A on the lower address (it connects) and B on the higher
 * one (it accepts), both on the same RDMA device. The main thread is the control thread (poll(2)
 * on both event channels, riov_rdma_cm_poll()); a second thread is the worker of both links (tx
 * and poll only). Checks:
 *   1. A starts first: its connects are refused until B listens, with back-off; then both links UP
 *      after the HELLOs.
 *   2. N frames each way (64 and 1514 bytes alternating, assorted VNIs, every 5th a 3-segment
 *      mbuf): each arrives once, in order, with its VNI, length and bytes.
 *   3. B's connection reset (riov_rdma_link_reset on the accepting side): A reports the link down,
 *      reconnects; N more frames each way.
 *   4. B's whole context destroyed (like a riovd killed: the kernel tears its QP down) and made
 *      again 300 ms later: A goes down, retries, reconnects; N more frames each way.
 *   5. 5 x N frames A->B only: B has no DATA to carry its credits, so it must send CREDIT messages.
 *   Neither side drops or refuses anything, no completion error, every mbuf back in its pool.
 * Prints one summary line (the lab test's result detail) and exits 0 when everything held.
 *
 * usage: rdma_link_smoke ADDR_A ADDR_B [FRAMES_PER_PHASE]   (ADDR_A < ADDR_B, both on the RDMA
 * device's netdev)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "common/log.h"
#include "dataplane/rdma_link.h"

#define BURST 32u
#define POOL_N 8191u

static struct rte_mempool *tx_pool, *rx_pool;
static uint32_t ip_a, ip_b;
static unsigned frames_per_phase = 2000;

/* control <-> worker */
enum { CMD_NONE, CMD_RESET_B, CMD_KILL_B, CMD_DONE };
static _Atomic int cmd;
static _Atomic int worker_done;
static struct riov_rdma_ctx *ctx_a, *ctx_b;
static _Atomic(struct riov_rdma_link *) link_a, link_b;
static int result = 1;
static char summary[1400];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- frames ---------------------------------------------------------------------------------- */

static uint32_t frame_len(unsigned dir, uint32_t seq)
{
	return (seq + dir) % 2 ? 1514u : 64u;
}

static uint32_t frame_vni(unsigned dir, uint32_t seq)
{
	return 1u + (seq * 2654435761u + dir * 40503u) % 0xfffffeu;
}

static uint8_t frame_byte(unsigned dir, uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 31u + i + dir * 7u);
}

/* frame seq of direction dir: the sequence number at bytes 14-17, the rest a pattern; every 5th
 * frame in three segments */
static struct rte_mbuf *make_frame(unsigned dir, uint32_t seq)
{
	const uint32_t len = frame_len(dir, seq);
	const uint32_t nseg = seq % 5 == 4 ? 3 : 1;
	struct rte_mbuf *head = NULL;
	uint32_t off = 0;

	for (uint32_t s = 0; s < nseg; s++) {
		uint32_t n = s + 1 == nseg ? len - off : len / nseg;
		struct rte_mbuf *m = rte_pktmbuf_alloc(tx_pool);
		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n);
		for (uint32_t i = 0; i < n; i++)
			p[i] = frame_byte(dir, seq, off + i);
		if (head == NULL)
			head = m;
		else
			rte_pktmbuf_chain(head, m);
		off += n;
	}
	/* the sequence number where the receiver reads it */
	uint8_t sb[4] = { (uint8_t)(seq >> 24), (uint8_t)(seq >> 16), (uint8_t)(seq >> 8), (uint8_t)seq };
	uint8_t *p = rte_pktmbuf_mtod(head, uint8_t *);
	memcpy(p + 14, sb, 4);
	return head;
}

struct dirstate {
	const char *name;
	uint32_t tx_seq, rx_seq;   /* next to send, next expected */
	struct rte_mbuf *pending[BURST];
	unsigned npending;
	uint64_t bad, dup_or_reorder, rx_total;
	char first_error[200];
};

static struct dirstate dirs[2] = { { .name = "A->B" }, { .name = "B->A" } };

static void rx_error(struct dirstate *d, const char *fmt, uint32_t a, uint32_t b)
{
	d->bad++;
	if (d->first_error[0] == 0)
		snprintf(d->first_error, sizeof(d->first_error), fmt, a, b);
}

static void check_frame(unsigned dir, struct rte_mbuf *m, uint32_t vni)
{
	struct dirstate *d = &dirs[dir];
	uint8_t tmp[1600];
	const uint8_t *p;

	if (m->pkt_len < 18 || m->pkt_len > sizeof(tmp)) {
		rx_error(d, "frame of %u bytes (expected seq %u)", m->pkt_len, d->rx_seq);
		return;
	}
	p = rte_pktmbuf_read(m, 0, m->pkt_len, tmp);
	const uint32_t seq = (uint32_t)p[14] << 24 | (uint32_t)p[15] << 16 | (uint32_t)p[16] << 8 | p[17];
	if (seq != d->rx_seq) {
		d->dup_or_reorder++;
		rx_error(d, "seq %u where %u was expected", seq, d->rx_seq);
		if (seq > d->rx_seq)
			d->rx_seq = seq;  /* go on from there (counted) */
	}
	if (m->pkt_len != frame_len(dir, seq))
		rx_error(d, "seq %u: length %u", seq, m->pkt_len);
	else if (vni != frame_vni(dir, seq))
		rx_error(d, "seq %u: VNI %u", seq, vni);
	else
		for (uint32_t i = 0; i < m->pkt_len; i++) {
			if (i >= 14 && i < 18)
				continue;
			if (p[i] != frame_byte(dir, seq, i)) {
				rx_error(d, "seq %u: byte %u differs", seq, i);
				break;
			}
		}
	d->rx_seq = seq + 1;
	d->rx_total++;
}

/* --- worker ---------------------------------------------------------------------------------- */

static struct riov_rdma_link *lnk(unsigned which)
{
	return atomic_load(which ? &link_b : &link_a);
}

/* One round: poll both links (frames received by B are A->B), send what is pending. use_b = 0
 * while B is being replaced. Returns whether anything moved. */
static bool round_once(bool use_b, bool send, const uint32_t *until)
{
	struct rte_mbuf *out[64];
	uint32_t vni[64];
	bool moved = false;

	for (unsigned w = 0; w < 2; w++) {
		if (w == 1 && !use_b)
			continue;
		/* frames arriving at A come from B (dir 1), at B from A (dir 0) */
		uint16_t n = riov_rdma_link_poll(lnk(w), out, vni, RTE_DIM(out));
		for (uint16_t i = 0; i < n; i++) {
			check_frame(w == 0 ? 1 : 0, out[i], vni[i]);
			rte_pktmbuf_free(out[i]);
		}
		moved |= n > 0;
	}
	if (!send)
		return moved;
	for (unsigned dir = 0; dir < 2; dir++) {
		struct dirstate *d = &dirs[dir];
		if (dir == 1 && !use_b)
			continue;
		while (d->npending < BURST && d->tx_seq < until[dir]) {
			struct rte_mbuf *m = make_frame(dir, d->tx_seq);
			if (m == NULL)
				break;
			d->pending[d->npending++] = m;
			d->tx_seq++;
		}
		if (d->npending == 0)
			continue;
		uint32_t vnis[BURST];
		uint32_t first = d->tx_seq - d->npending;
		for (unsigned i = 0; i < d->npending; i++)
			vnis[i] = frame_vni(dir, first + i);
		uint16_t k = riov_rdma_link_tx(lnk(dir), d->pending, vnis, (uint16_t)d->npending);
		for (uint16_t i = 0; i < k; i++)
			rte_pktmbuf_free(d->pending[i]);
		memmove(d->pending, d->pending + k, (d->npending - k) * sizeof(d->pending[0]));
		d->npending -= k;
		moved |= k > 0;
	}
	return moved;
}

static bool both_up(void)
{
	return riov_rdma_link_state(lnk(0)) == RIOV_RDMA_LINK_UP && riov_rdma_link_state(lnk(1)) == RIOV_RDMA_LINK_UP;
}

/* Poll until both links are up. Returns seconds taken, or -1. */
static double wait_up(double limit)
{
	double t0 = now_s();
	while (!both_up()) {
		if (!round_once(true, false, NULL))
			sched_yield();
		if (now_s() - t0 > limit)
			return -1;
	}
	return now_s() - t0;
}

struct phase_result {
	double secs;
	uint64_t frames[2], bytes[2];
};

/* n0 more frames A->B, n1 B->A; true when all arrived. */
static bool phase2(unsigned n0, unsigned n1, double limit, struct phase_result *r)
{
	uint32_t until[2] = { dirs[0].tx_seq + n0, dirs[1].tx_seq + n1 };
	uint64_t rx0[2] = { dirs[0].rx_total, dirs[1].rx_total };
	struct riov_rdma_link_stats sa, sb;
	riov_rdma_link_stats(lnk(0), &sa);
	riov_rdma_link_stats(lnk(1), &sb);
	double t0 = now_s();

	while (dirs[0].rx_total - rx0[0] < n0 || dirs[1].rx_total - rx0[1] < n1) {
		if (!round_once(true, true, until))
			sched_yield();
		if (now_s() - t0 > limit)
			break;
	}
	r->secs = now_s() - t0;
	struct riov_rdma_link_stats ea, eb;
	riov_rdma_link_stats(lnk(0), &ea);
	riov_rdma_link_stats(lnk(1), &eb);
	r->frames[0] = dirs[0].rx_total - rx0[0];
	r->frames[1] = dirs[1].rx_total - rx0[1];
	r->bytes[0] = eb.rx_bytes - sb.rx_bytes;
	r->bytes[1] = ea.rx_bytes - sa.rx_bytes;
	return r->frames[0] == n0 && r->frames[1] == n1;
}

static bool phase(unsigned n, double limit, struct phase_result *r)
{
	return phase2(n, n, limit, r);
}

static void ask_control(int c)
{
	atomic_store(&cmd, c);
	while (atomic_load(&cmd) != CMD_DONE) {
		if (!round_once(c != CMD_KILL_B, false, NULL))
			sched_yield();
	}
	atomic_store(&cmd, CMD_NONE);
}

/* After a reset or kill of B: A must be seen not UP, then both UP again. */
static double wait_down_then_up(bool use_b, double limit, bool *saw_down)
{
	double t0 = now_s();
	*saw_down = false;
	while (now_s() - t0 < limit) {
		if (riov_rdma_link_state(lnk(0)) != RIOV_RDMA_LINK_UP)
			*saw_down = true;
		if (*saw_down && both_up())
			return now_s() - t0;
		if (!round_once(use_b, false, NULL))
			sched_yield();
	}
	return -1;
}

static char rates[3][160];

static void fmt_rate(unsigned i, const struct phase_result *r)
{
	snprintf(rates[i], sizeof(rates[i]), "%.0f/%.0f fr/s %.1f/%.1f Mbit/s", r->frames[0] / r->secs,
		 r->frames[1] / r->secs, r->bytes[0] * 8 / r->secs / 1e6, r->bytes[1] * 8 / r->secs / 1e6);
}

static void *worker(void *arg)
{
	struct phase_result r[3];
	const unsigned n = frames_per_phase;
	double up0, up1, up2;
	bool down1, down2;
	char err[700] = "";
	(void)arg;

	up0 = wait_up(30);
	if (up0 < 0) {
		snprintf(err, sizeof(err), "links not up after 30 s (A %s, B %s)",
			 riov_rdma_link_state_name(riov_rdma_link_state(lnk(0))),
			 riov_rdma_link_state_name(riov_rdma_link_state(lnk(1))));
		goto out;
	}
	printf("both links up in %.2f s\n", up0);
	if (!phase(n, 20, &r[0])) {
		snprintf(err, sizeof(err), "phase 1: %lu/%u A->B, %lu/%u B->A arrived", (unsigned long)r[0].frames[0], n,
			 (unsigned long)r[0].frames[1], n);
		goto out;
	}
	fmt_rate(0, &r[0]);
	printf("phase 1: %u frames each way in %.2f s (%s)\n", n, r[0].secs, rates[0]);

	ask_control(CMD_RESET_B);
	up1 = wait_down_then_up(true, 30, &down1);
	if (up1 < 0) {
		snprintf(err, sizeof(err), "after B's reset: A %s down, not both up again in 30 s (A %s, B %s)",
			 down1 ? "went" : "never went", riov_rdma_link_state_name(riov_rdma_link_state(lnk(0))),
			 riov_rdma_link_state_name(riov_rdma_link_state(lnk(1))));
		goto out;
	}
	printf("B reset: A went down and both are up again after %.2f s\n", up1);
	if (!phase(n, 20, &r[1])) {
		snprintf(err, sizeof(err), "phase 2: %lu/%u A->B, %lu/%u B->A arrived", (unsigned long)r[1].frames[0], n,
			 (unsigned long)r[1].frames[1], n);
		goto out;
	}
	fmt_rate(1, &r[1]);
	printf("phase 2: %u frames each way in %.2f s (%s)\n", n, r[1].secs, rates[1]);

	ask_control(CMD_KILL_B);
	up2 = wait_down_then_up(true, 30, &down2);
	if (up2 < 0) {
		snprintf(err, sizeof(err), "after B's context was destroyed: A %s down, not both up again in 30 s (A %s, B %s)",
			 down2 ? "went" : "never went", riov_rdma_link_state_name(riov_rdma_link_state(lnk(0))),
			 riov_rdma_link_state_name(riov_rdma_link_state(lnk(1))));
		goto out;
	}
	printf("B killed and restarted: both up again after %.2f s\n", up2);
	if (!phase(n, 20, &r[2])) {
		snprintf(err, sizeof(err), "phase 3: %lu/%u A->B, %lu/%u B->A arrived", (unsigned long)r[2].frames[0], n,
			 (unsigned long)r[2].frames[1], n);
		goto out;
	}
	fmt_rate(2, &r[2]);
	printf("phase 3: %u frames each way in %.2f s (%s)\n", n, r[2].secs, rates[2]);

	/* one way only: B sends nothing but CREDIT messages, which A needs beyond B's first window */
	struct phase_result r4;
	if (!phase2(5 * n, 0, 30, &r4)) {
		snprintf(err, sizeof(err), "phase 4 (one way): %lu/%u A->B arrived", (unsigned long)r4.frames[0], 5 * n);
		goto out;
	}
	printf("phase 4: %u frames A->B only in %.2f s (%.0f fr/s)\n", 5 * n, r4.secs, r4.frames[0] / r4.secs);

	struct riov_rdma_link_stats sa, sb;
	riov_rdma_link_stats(lnk(0), &sa);
	riov_rdma_link_stats(lnk(1), &sb);
	uint64_t drops = 0;
	for (unsigned i = 0; i < RIOV_RDMA_DROP__MAX; i++)
		drops += sa.drops[i];
	if (dirs[0].bad || dirs[1].bad) {
		snprintf(err, sizeof(err), "bad frames: A->B %lu (%s), B->A %lu (%s)", (unsigned long)dirs[0].bad,
			 dirs[0].first_error, (unsigned long)dirs[1].bad, dirs[1].first_error);
		goto out;
	}
	for (unsigned i = 0; i < RIOV_RDMA_DROP__MAX; i++)
		drops += sb.drops[i];
	if (!down1 || !down2 || sa.teardowns < 2 || sa.established < 3 || drops || sa.tx_refused ||
	    sb.tx_credit_msgs == 0 || sa.wc_errors || sb.wc_errors) {
		snprintf(err, sizeof(err), "A: %lu teardowns, %lu established, %lu drops (both), %lu refused, %lu+%lu "
			 "completion errors; B sent %lu CREDIT messages", (unsigned long)sa.teardowns,
			 (unsigned long)sa.established, (unsigned long)drops, (unsigned long)sa.tx_refused,
			 (unsigned long)sa.wc_errors, (unsigned long)sb.wc_errors, (unsigned long)sb.tx_credit_msgs);
		goto out;
	}
	snprintf(summary, sizeof(summary),
		 "rdma link on rxe: %u frames each way x 3 phases + %u one way, all once, in order, VNI+bytes ok; "
		 "A connect errors before B listened %lu, up again %.2f s after B's reset, %.2f s after B restarted; "
		 "A tx %lu msgs (%.1f frames/msg, %lu inline, %lu signaled, inline cap %u, msg cap %u), B %lu CREDIT msgs; "
		 "rates A->B/B->A: %s",
		 n, 5 * n, (unsigned long)sa.connect_errors, up1, up2, (unsigned long)sa.tx_msgs,
		 sa.tx_msgs ? (double)sa.tx_frames / (double)sa.tx_msgs : 0.0, (unsigned long)sa.tx_inline,
		 (unsigned long)sa.tx_signaled, sa.inline_size, sa.msg_cap, (unsigned long)sb.tx_credit_msgs, rates[0]);
	result = 0;
out:
	if (result != 0)
		snprintf(summary, sizeof(summary), "FAIL: %s", err);
	/* give back what is still pending */
	for (unsigned d = 0; d < 2; d++)
		for (unsigned i = 0; i < dirs[d].npending; i++)
			rte_pktmbuf_free(dirs[d].pending[i]);
	atomic_store(&worker_done, 1);
	return NULL;
}

/* --- control --------------------------------------------------------------------------------- */

static struct riov_rdma_conf conf_of(uint32_t ip)
{
	struct riov_rdma_conf c;
	memset(&c, 0, sizeof(c));
	c.local_ip = ip;
	c.socket_id = SOCKET_ID_ANY;
	c.rx_pool = rx_pool;
	return c;
}

static int make_node(uint32_t ip, uint32_t peer, struct riov_rdma_ctx **ctx, _Atomic(struct riov_rdma_link *) *l)
{
	struct riov_rdma_conf c = conf_of(ip);
	struct riov_rdma_link *lk;
	int rc = riov_rdma_ctx_create(&c, ctx);
	if (rc != 0)
		return rc;
	rc = riov_rdma_link_create(*ctx, peer, &lk);
	if (rc != 0) {
		riov_rdma_ctx_destroy(*ctx);
		*ctx = NULL;
		return rc;
	}
	atomic_store(l, lk);
	return 0;
}

/* One control round: wait for events (at most wait ms), handle both contexts. */
static int control_round(int wait)
{
	struct pollfd pf[2];
	int n = 0;
	if (ctx_a != NULL)
		pf[n++] = (struct pollfd){ .fd = riov_rdma_ctx_fd(ctx_a), .events = POLLIN };
	if (ctx_b != NULL)
		pf[n++] = (struct pollfd){ .fd = riov_rdma_ctx_fd(ctx_b), .events = POLLIN };
	poll(pf, (nfds_t)n, wait);
	int w = RIOV_RDMA_CM_TICK_MS;
	if (ctx_a != NULL)
		w = RTE_MIN(w, riov_rdma_cm_poll(ctx_a));
	if (ctx_b != NULL)
		w = RTE_MIN(w, riov_rdma_cm_poll(ctx_b));
	return w;
}

int main(int argc, char **argv)
{
	char *eal[] = { "rdma_link_smoke", "--no-huge", "-m", "192", "--no-pci", "--no-shconf", "--log-level=5",
			"--file-prefix=rdmasmoke", NULL };
	struct in_addr a, b;
	pthread_t th;
	int rc;

	if (argc < 3 || inet_pton(AF_INET, argv[1], &a) != 1 || inet_pton(AF_INET, argv[2], &b) != 1 ||
	    ntohl(a.s_addr) >= ntohl(b.s_addr)) {
		fprintf(stderr, "usage: %s ADDR_A ADDR_B [FRAMES] (ADDR_A < ADDR_B)\n", argv[0]);
		return 2;
	}
	if (argc > 3)
		frames_per_phase = (unsigned)atoi(argv[3]);
	ip_a = a.s_addr;
	ip_b = b.s_addr;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "FAIL: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	riov_log_set_level(RIOV_LOG_INFO);
	tx_pool = rte_pktmbuf_pool_create("smoke_tx", POOL_N, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	rx_pool = rte_pktmbuf_pool_create("smoke_rx", POOL_N, 0, 0, 0, SOCKET_ID_ANY);
	if (tx_pool == NULL || rx_pool == NULL) {
		fprintf(stderr, "FAIL: mbuf pools: %s\n", rte_strerror(rte_errno));
		return 1;
	}

	/* A first: it connects to B, which is not listening yet */
	rc = make_node(ip_a, ip_b, &ctx_a, &link_a);
	if (rc != 0) {
		printf("FAIL: node A on %s: %s\n", argv[1], strerror(-rc));
		return 1;
	}
	if (!riov_rdma_link_is_connector(atomic_load(&link_a))) {
		printf("FAIL: A (the lower address) does not connect\n");
		return 1;
	}
	/* the worker is not running yet: A's link is not published before B exists (no connection) */
	double t0 = now_s();
	struct riov_rdma_link_stats st;
	do {
		control_round(20);
		riov_rdma_link_stats(atomic_load(&link_a), &st);
	} while (st.connect_errors < 2 && now_s() - t0 < 10);
	printf("A before B listens: %lu connect attempts, %lu failed, state %s\n", (unsigned long)st.connects,
	       (unsigned long)st.connect_errors, riov_rdma_link_state_name(riov_rdma_link_state(atomic_load(&link_a))));
	if (st.connect_errors < 2) {
		printf("FAIL: A's connects to a node not listening did not fail twice in 10 s\n");
		return 1;
	}
	rc = make_node(ip_b, ip_a, &ctx_b, &link_b);
	if (rc != 0) {
		printf("FAIL: node B on %s: %s\n", argv[2], strerror(-rc));
		return 1;
	}
	if (pthread_create(&th, NULL, worker, NULL) != 0) {
		printf("FAIL: pthread_create\n");
		return 1;
	}
	int wait = 0;
	while (!atomic_load(&worker_done)) {
		wait = control_round(wait);
		int c = atomic_load(&cmd);
		if (c == CMD_RESET_B) {
			riov_rdma_link_reset(atomic_load(&link_b), "smoke test: reset B");
			atomic_store(&cmd, CMD_DONE);
		} else if (c == CMD_KILL_B) {
			/* the worker does not touch B now */
			riov_rdma_ctx_destroy(ctx_b);
			ctx_b = NULL;
			atomic_store(&link_b, NULL);
			double tk = now_s();
			while (now_s() - tk < 0.3)
				control_round(20);
			rc = make_node(ip_b, ip_a, &ctx_b, &link_b);
			if (rc != 0) {
				printf("FAIL: node B again: %s\n", strerror(-rc));
				return 1;
			}
			atomic_store(&cmd, CMD_DONE);
		}
	}
	pthread_join(th, NULL);
	riov_rdma_ctx_destroy(ctx_a);
	riov_rdma_ctx_destroy(ctx_b);
	/* every mbuf back: the links' receive buffers were all given back by the frames */
	unsigned txa = rte_mempool_avail_count(tx_pool), rxa = rte_mempool_avail_count(rx_pool);
	if (result == 0 && (txa != POOL_N || rxa != POOL_N)) {
		snprintf(summary, sizeof(summary), "FAIL: mbufs missing at the end: tx pool %u/%u, rx pool %u/%u", txa,
			 POOL_N, rxa, POOL_N);
		result = 1;
	}
	printf("%s\n", summary);
	rte_mempool_free(tx_pool);
	rte_mempool_free(rx_pool);
	rte_eal_cleanup();
	return result;
}
