/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RDMA peer links in a build without rdma-core (meson's `rdma` feature not found): the API of
 * rdma_link.h with nothing behind it, so that riovd links the same calls in every build. A
 * context cannot be created (-EOPNOTSUPP); riovd's configuration already refuses rdma_device in
 * such a build (control/config.c), so nothing else is ever called with a real object.
 *
 * Thread rules: as rdma_link.h.
 */
#include <errno.h>
#include <stddef.h>

#include "dataplane/rdma_link.h"

int riov_rdma_ctx_create(const struct riov_rdma_conf *conf, struct riov_rdma_ctx **out)
{
	(void)conf;
	*out = NULL;
	return -EOPNOTSUPP;
}

void riov_rdma_ctx_destroy(struct riov_rdma_ctx *ctx)
{
	(void)ctx;
}

void riov_rdma_devices_sync(void)
{
}

void riov_rdma_devices_release(void)
{
}

bool riov_rdma_ctx_removed(const struct riov_rdma_ctx *ctx)
{
	(void)ctx;
	return false;
}

int riov_rdma_ctx_fd(const struct riov_rdma_ctx *ctx)
{
	(void)ctx;
	return -1;
}

int riov_rdma_cm_poll(struct riov_rdma_ctx *ctx)
{
	(void)ctx;
	return RIOV_RDMA_CM_TICK_MS;
}

int riov_rdma_link_create(struct riov_rdma_ctx *ctx, uint32_t peer_ip, struct riov_rdma_link **out)
{
	(void)ctx;
	(void)peer_ip;
	*out = NULL;
	return -EOPNOTSUPP;
}

void riov_rdma_link_destroy(struct riov_rdma_link *link)
{
	(void)link;
}

void riov_rdma_link_reset(struct riov_rdma_link *link, const char *why)
{
	(void)link;
	(void)why;
}

enum riov_rdma_link_state riov_rdma_link_state(const struct riov_rdma_link *link)
{
	(void)link;
	return RIOV_RDMA_LINK_DOWN;
}

const char *riov_rdma_link_state_name(enum riov_rdma_link_state s)
{
	(void)s;
	return "down";
}

void riov_rdma_link_stats(const struct riov_rdma_link *link, struct riov_rdma_link_stats *out)
{
	(void)link;
	*out = (struct riov_rdma_link_stats){ .connects = 0 };
}

int riov_rdma_link_is_connector(const struct riov_rdma_link *link)
{
	(void)link;
	return 0;
}

uint16_t riov_rdma_link_tx(struct riov_rdma_link *link, struct rte_mbuf **m, const uint32_t *vni, uint16_t n)
{
	(void)link;
	(void)m;
	(void)vni;
	(void)n;
	return 0;
}

uint16_t riov_rdma_link_poll(struct riov_rdma_link *link, struct rte_mbuf **out, uint32_t *vni_out, uint16_t max)
{
	(void)link;
	(void)out;
	(void)vni_out;
	(void)max;
	return 0;
}

uint32_t riov_rdma_link_frame_max(const struct riov_rdma_link *link)
{
	(void)link;
	return 0;
}

uint32_t riov_rdma_link_ol_frame_max(const struct riov_rdma_link *link)
{
	(void)link;
	return 0;
}
