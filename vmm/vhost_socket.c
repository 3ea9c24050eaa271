/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user sockets: the server (riovd listens on the path, one front-end at a time, a stale
 * socket from an earlier riovd replaced) and the client (riovd connects and reconnects with
 * back-off from BACKOFF_MIN_MS to BACKOFF_MAX_MS), and the one connection's life.
 *
 * Security model: anyone who can connect to the path is a front-end (its permissions are the
 * access control); what it sends is checked by vhost_msg.c. A second front-end is refused while
 * one is connected. Closing a connection stops every vring through ops->vring_stop (which waits
 * for the workers) before any memory is unmapped (vu_session_release).
 *
 * Thread rules: control thread only (the caller's libevent base).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "vmm/vhost_internal.h"

RIOV_LOG_COMPONENT("vhost", RIOV_LOG_INFO);

#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 2000u

/* ---- the connection ---------------------------------------------------------------------------- */

static void on_conn_read(evutil_socket_t fd, short what, void *arg)
{
	vu_conn_process(arg);
}

static void schedule_reconnect(struct riov_vhost_dev *dev)
{
	struct timeval tv = { dev->backoff_ms / 1000, (dev->backoff_ms % 1000) * 1000 };
	evtimer_add(dev->timer_ev, &tv);
	dev->backoff_ms = dev->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : dev->backoff_ms * 2;
}

int vu_conn_open(struct riov_vhost_dev *dev, int fd)
{
	dev->conn_ev = event_new(dev->p.base, fd, EV_READ | EV_PERSIST, on_conn_read, dev);
	if (!dev->conn_ev || event_add(dev->conn_ev, NULL) < 0) {
		if (dev->conn_ev)
			event_free(dev->conn_ev);
		dev->conn_ev = NULL;
		close(fd);
		return -ENOMEM;
	}
	dev->conn_fd = fd;
	memset(&dev->rx, 0, sizeof(dev->rx));
	dev->connects++;
	dev->backoff_ms = BACKOFF_MIN_MS;
	RIOV_LOG(RIOV_LOG_INFO, "%s: front-end connected", dev->name);
	if (dev->p.ops->link_change)
		dev->p.ops->link_change(dev->p.ops_ctx, dev, true);
	return 0;
}

void vu_conn_close(struct riov_vhost_dev *dev)
{
	if (dev->conn_fd < 0)
		return;
	vu_session_release(dev, false);
	vu_rx_reset(&dev->rx);
	if (dev->conn_ev)
		event_free(dev->conn_ev);
	dev->conn_ev = NULL;
	close(dev->conn_fd);
	dev->conn_fd = -1;
	dev->disconnects++;
	if (dev->p.ops->link_change)
		dev->p.ops->link_change(dev->p.ops_ctx, dev, false);
	if (dev->p.mode == RIOV_VHOST_CLIENT && dev->timer_ev) {
		dev->backoff_ms = BACKOFF_MIN_MS;
		schedule_reconnect(dev);
	}
}

/* ---- server ------------------------------------------------------------------------------------ */

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct riov_vhost_dev *dev = arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (dev->conn_fd >= 0) {
			/* one front-end at a time: say why in the log and hang up on the newcomer */
			RIOV_LOG_RL(RIOV_LOG_NOTICE, "%s: refusing a second front-end connection",
				    dev->name);
			close(fd);
			continue;
		}
		vu_conn_open(dev, fd);
	}
}

/* bind() found the path in use: replace a stale socket from a previous riovd, not a live one. */
static int rebind_stale(struct riov_vhost_dev *dev, int fd, const struct sockaddr_un *sa)
{
	int rc = -EADDRINUSE;
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct stat st;

	if (probe >= 0 && connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) < 0 &&
	    errno == ECONNREFUSED && lstat(dev->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    unlink(dev->path) == 0 && bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		rc = 0;
	if (probe >= 0)
		close(probe);
	return rc;
}

int vu_server_listen(struct riov_vhost_dev *dev)
{
	struct sockaddr_un sa;
	int rc = fill_addr(&sa, dev->path);
	if (rc)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		if (rc == -EADDRINUSE)
			rc = rebind_stale(dev, fd, &sa);
		if (rc) {
			close(fd);
			return rc;
		}
	}
	dev->unlink_path = true;
	if (listen(fd, 8) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	dev->listen_fd = fd;
	dev->listen_ev = event_new(dev->p.base, fd, EV_READ | EV_PERSIST, on_accept, dev);
	if (!dev->listen_ev || event_add(dev->listen_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- client ------------------------------------------------------------------------------------ */

static void client_try_connect(struct riov_vhost_dev *dev)
{
	struct sockaddr_un sa;
	if (dev->conn_fd >= 0 || fill_addr(&sa, dev->path))
		return;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		if (vu_conn_open(dev, fd) == 0)
			return;
	} else if (fd >= 0) {
		close(fd);
	}
	schedule_reconnect(dev);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	client_try_connect(arg);
}

int vu_client_start(struct riov_vhost_dev *dev)
{
	dev->timer_ev = evtimer_new(dev->p.base, on_timer, dev);
	if (!dev->timer_ev)
		return -ENOMEM;
	client_try_connect(dev);
	return 0;
}

void vu_sockets_close(struct riov_vhost_dev *dev)
{
	if (dev->timer_ev) {
		event_free(dev->timer_ev);
		dev->timer_ev = NULL;   /* vu_conn_close must not schedule a reconnect */
	}
	vu_conn_close(dev);
	if (dev->listen_ev)
		event_free(dev->listen_ev);
	dev->listen_ev = NULL;
	vu_close_fd(&dev->listen_fd);
	if (dev->unlink_path)
		unlink(dev->path);
	dev->unlink_path = false;
}
