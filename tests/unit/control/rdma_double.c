/* SPDX-License-Identifier: BSD-3-Clause */
/* Doubles of dataplane/rdma_link.h and dp.h's riov_dp_rdma_* (rdma_double.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/dp.h"
#include "tests/unit/control/rdma_double.h"

struct rdma_double_knobs rdma_double;

struct riov_rdma_ctx {
	int fd;
};

struct riov_rdma_link {
	uint32_t ip;
	bool attached;
};

static struct riov_rdma_link *links[RDMA_DOUBLE_LINKS];

void rdma_double_reset(void)
{
	memset(&rdma_double, 0, sizeof(rdma_double));
}

unsigned rdma_double_links(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < RDMA_DOUBLE_LINKS; i++)
		n += links[i] != NULL;
	return n;
}

static struct riov_rdma_link *link_of(uint32_t ip, bool attached_only)
{
	for (unsigned i = 0; i < RDMA_DOUBLE_LINKS; i++)
		if (links[i] != NULL && links[i]->ip == ip && (!attached_only || links[i]->attached))
			return links[i];
	return NULL;
}

bool rdma_double_attached(uint32_t ip)
{
	return link_of(ip, true) != NULL;
}

int riov_rdma_ctx_create(const struct riov_rdma_conf *conf, struct riov_rdma_ctx **out)
{
	rdma_double.ctx_creates++;
	if (rdma_double.ctx_create_rc != 0)
		return rdma_double.ctx_create_rc;
	*out = calloc(1, sizeof(**out));
	if (*out == NULL)
		return -ENOMEM;
	(*out)->fd = -1; /* nothing to watch: the service polls on its timer */
	rdma_double.ctx_live++;
	rdma_double.ctx_ip = conf->local_ip;
	rdma_double.ctx_port = conf->port;
	rdma_double.ctx_msg_size = conf->msg_size;
	rdma_double.ctx_recv_bufs = conf->recv_bufs;
	rdma_double.ctx_send_bufs = conf->send_bufs;
	return 0;
}

void riov_rdma_ctx_destroy(struct riov_rdma_ctx *ctx)
{
	if (ctx == NULL)
		return;
	rdma_double.ctx_destroys++;
	rdma_double.ctx_live--;
	free(ctx);
}

void riov_rdma_devices_sync(void)
{
	rdma_double.device_syncs++;
}

void riov_rdma_devices_release(void)
{
	rdma_double.device_releases++;
	if (rdma_double.ctx_live != 0)
		rdma_double.misuse++;   /* librdmacm's contexts closed under a live context */
}

bool riov_rdma_ctx_removed(const struct riov_rdma_ctx *ctx)
{
	(void)ctx;
	return rdma_double.ctx_removed;
}

int riov_rdma_ctx_fd(const struct riov_rdma_ctx *ctx)
{
	return ctx->fd;
}

int riov_rdma_cm_poll(struct riov_rdma_ctx *ctx)
{
	(void)ctx;
	rdma_double.cm_polls++;
	return RIOV_RDMA_CM_TICK_MS;
}

int riov_rdma_link_create(struct riov_rdma_ctx *ctx, uint32_t peer_ip, struct riov_rdma_link **out)
{
	(void)ctx;
	rdma_double.link_creates++;
	if (rdma_double.link_create_rc != 0)
		return rdma_double.link_create_rc;
	if (link_of(peer_ip, false) != NULL)
		return -EEXIST;
	for (unsigned i = 0; i < RDMA_DOUBLE_LINKS; i++) {
		if (links[i] == NULL) {
			links[i] = calloc(1, sizeof(*links[i]));
			if (links[i] == NULL)
				return -ENOMEM;
			links[i]->ip = peer_ip;
			*out = links[i];
			return 0;
		}
	}
	return -ENOMEM;
}

void riov_rdma_link_destroy(struct riov_rdma_link *link)
{
	rdma_double.link_destroys++;
	for (unsigned i = 0; i < RDMA_DOUBLE_LINKS; i++) {
		if (links[i] == link) {
			if (link->attached)
				rdma_double.misuse++; /* the workers could still use it */
			links[i] = NULL;
			free(link);
			return;
		}
	}
	rdma_double.misuse++; /* not a live link */
}

void riov_rdma_link_reset(struct riov_rdma_link *link, const char *why)
{
	(void)link;
	(void)why;
}

enum riov_rdma_link_state riov_rdma_link_state(const struct riov_rdma_link *link)
{
	(void)link;
	return rdma_double.state;
}

const char *riov_rdma_link_state_name(enum riov_rdma_link_state s)
{
	(void)s;
	return "?";
}

void riov_rdma_link_stats(const struct riov_rdma_link *link, struct riov_rdma_link_stats *out)
{
	(void)link;
	*out = rdma_double.stats;
}

int riov_rdma_link_is_connector(const struct riov_rdma_link *link)
{
	(void)link;
	return 1;
}

/* ---- the dataplane's side ---- */

void riov_dp_rdma_conf(struct riov_dp *dp, struct riov_rdma_conf *conf)
{
	(void)dp;
	conf->rx_pool = NULL;
	conf->socket_id = -1;
}

int riov_dp_rdma_attach(struct riov_dp *dp, uint32_t ip, struct riov_rdma_link *link, unsigned *worker)
{
	(void)dp;
	rdma_double.attaches++;
	if (rdma_double.attach_rc != 0)
		return rdma_double.attach_rc;
	if (link_of(ip, true) != NULL)
		return -EEXIST;
	link->attached = true;
	if (worker != NULL)
		*worker = 0;
	return 0;
}

int riov_dp_rdma_detach(struct riov_dp *dp, uint32_t ip)
{
	(void)dp;
	struct riov_rdma_link *l = link_of(ip, true);

	rdma_double.detaches++;
	if (l == NULL)
		return -ENOENT;
	l->attached = false;
	return 0;
}

int riov_dp_rdma_stats(struct riov_dp *dp, uint32_t ip, struct riov_dp_rdma_stats *out)
{
	(void)dp;
	if (link_of(ip, true) == NULL)
		return -ENOENT;
	*out = rdma_double.dp_stats;
	return 0;
}
