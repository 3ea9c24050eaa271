/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user sockets: the server (riovd listens on the path, one front-end at a time, a stale
 * socket from an earlier riovd replaced) and the client (riovd connects and reconnects with
 * back-off from BACKOFF_MIN_MS to BACKOFF_MAX_MS), and the one connection's life.
 *
 * Security model: anyone who can connect to the path is a front-end (its permissions are the
 * access control); what it sends is checked by vhost_msg.c. A second front-end is refused while
 * one is connected. Socket paths come from RPC clients: riov_vhost_socket_confine() keeps them
 * inside socket_dir (no "..", no symlink on the way, each directory opened with O_NOFOLLOW from the
 * one before) and hands back a path through the directory's fd. A device opens its socket's
 * directory once and binds, connects and unlinks only through that fd, so renaming directories
 * or planting symlinks afterwards cannot move it; a client connects through an O_PATH fd of the
 * socket file opened with O_NOFOLLOW. riovd unlinks only the socket file it bound (same device and
 * inode, checked without following links): a file someone else put there stays. Closing a
 * connection stops every vring through ops->vring_stop (which waits for the workers) before any
 * memory is unmapped (vu_session_release).
 *
 * Thread rules: control thread only (the caller's libevent base).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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
	/* the guest's process (QEMU, a DPDK app) for the journal's RIOV_GUEST_PID; Linux gives the
	 * peer's credentials on both ends of a connection, so this holds for server and client ports */
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cl == sizeof(cred) && cred.pid > 0)
		riov_log_port_guest(dev->name, (int)cred.pid);
	RIOV_LOG_PORT(RIOV_LOG_INFO, dev->name, "front-end connected");
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
	riov_log_port_guest(dev->name, 0);
	if (dev->p.ops->link_change)
		dev->p.ops->link_change(dev->p.ops_ctx, dev, false);
	if (dev->p.mode == RIOV_VHOST_CLIENT && dev->timer_ev) {
		dev->backoff_ms = BACKOFF_MIN_MS;
		schedule_reconnect(dev);
	}
}

/* ---- server ------------------------------------------------------------------------------------ */

/* The address of name in the directory fd (or of fd itself, name NULL), through /proc: the kernel
 * resolves the fd, not the names that led to it. Returns 0 or -ENAMETOOLONG. */
static int fill_addr(struct sockaddr_un *sa, int fd, const char *name)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (name)
		n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", fd, name);
	else
		n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d", fd);
	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -ENAMETOOLONG : 0;
}

/* A path through /proc/self/fd (riov_vhost_socket_confine()) means nothing to a reader once the
 * caller's fd is closed: name the socket by its directory's path at open time, for logs only. */
static void name_for_logs(struct riov_vhost_dev *dev)
{
	char link[32], dir[PATH_MAX];
	char *np;

	if (strncmp(dev->path, "/proc/self/fd/", 14) != 0)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dev->dir_fd);
	ssize_t n = readlink(link, dir, sizeof(dir) - 1);
	if (n <= 0)
		return;
	dir[n] = '\0';
	if (asprintf(&np, "%s/%s", strcmp(dir, "/") ? dir : "", dev->base) < 0)
		return;
	free(dev->path);
	dev->path = np;
	dev->p.path = np;
	dev->base = strrchr(np, '/') + 1;
}

/* Open the directory of dev->path once (O_PATH): from here on the socket is reached through this
 * fd. Returns 0 or -errno. */
static int dir_open(struct riov_vhost_dev *dev)
{
	const char *slash = strrchr(dev->path, '/');
	char dir[PATH_MAX];
	size_t n;

	if (dev->dir_open)
		return 0;
	dev->base = slash ? slash + 1 : dev->path;
	if (dev->base[0] == '\0' || strcmp(dev->base, ".") == 0 || strcmp(dev->base, "..") == 0)
		return -EINVAL;
	if (strlen(dev->base) > NAME_MAX)
		return -ENAMETOOLONG;
	n = !slash ? 0 : slash == dev->path ? 1 : (size_t)(slash - dev->path);
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, n ? dev->path : ".", n ? n : 1);
	dir[n ? n : 1] = '\0';
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dev->dir_fd = fd;
	dev->dir_open = true;
	name_for_logs(dev);
	return 0;
}

/* The socket file at dev->base, not following a symlink. Returns 0 or -errno. */
static int stat_base(struct riov_vhost_dev *dev, struct stat *st)
{
	return fstatat(dev->dir_fd, dev->base, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
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
			RIOV_LOG_PORT_RL(RIOV_LOG_NOTICE, dev->name,
					 "refusing a second front-end connection");
			close(fd);
			continue;
		}
		vu_conn_open(dev, fd);
	}
}

/* bind() found the path in use: replace a stale socket from a previous riovd (a socket file, not
 * a link, that nobody answers on), not a live one and not any other file. */
static int rebind_stale(struct riov_vhost_dev *dev, int fd, const struct sockaddr_un *sa)
{
	int rc = -EADDRINUSE;
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct stat st;

	if (probe >= 0 && stat_base(dev, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno == ECONNREFUSED &&
	    unlinkat(dev->dir_fd, dev->base, 0) == 0 &&
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		rc = 0;
	if (probe >= 0)
		close(probe);
	return rc;
}

/* Remember the file bind() created, the only one vu_sockets_close() may unlink. Someone able to
 * replace it between bind() and here can write to the directory, so could delete its files
 * anyway: the window gives nothing away. */
static void remember_socket(struct riov_vhost_dev *dev)
{
	struct stat st;

	if (stat_base(dev, &st) == 0 && S_ISSOCK(st.st_mode)) {
		dev->sock_dev = (uint64_t)st.st_dev;
		dev->sock_ino = (uint64_t)st.st_ino;
		dev->unlink_path = true;
	}
}

/* Unlink the socket riovd bound, if it is still the file at its name. */
static void unlink_own(struct riov_vhost_dev *dev)
{
	struct stat st;

	if (stat_base(dev, &st) != 0)
		return;
	if (!S_ISSOCK(st.st_mode) || (uint64_t)st.st_dev != dev->sock_dev ||
	    (uint64_t)st.st_ino != dev->sock_ino) {
		RIOV_LOG_PORT(RIOV_LOG_NOTICE, dev->name,
			      "%s is no longer the socket riovd created: left in place", dev->path);
		return;
	}
	if (unlinkat(dev->dir_fd, dev->base, 0) != 0)
		RIOV_LOG_PORT(RIOV_LOG_WARN, dev->name, "cannot remove %s: %s", dev->path,
			      strerror(errno));
}

int vu_server_listen(struct riov_vhost_dev *dev)
{
	struct sockaddr_un sa;
	int rc = dir_open(dev);
	if (rc == 0)
		rc = fill_addr(&sa, dev->dir_fd, dev->base);
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
	remember_socket(dev);
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

/* Connect to the socket file at dev->base: opened with O_NOFOLLOW and checked to be a socket,
 * then reached through that fd, so a symlink planted at the name is not followed. Returns the
 * connected fd or -1. */
static int client_connect(struct riov_vhost_dev *dev)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd = -1;
	int sfd = openat(dev->dir_fd, dev->base, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (sfd < 0)
		return -1;
	if (fstat(sfd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
		RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name,
				 "%s is not a socket (a link or another file): not connecting",
				 dev->path);
	} else if (fill_addr(&sa, sfd, NULL) == 0 &&
		   (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) >= 0 &&
		   connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	close(sfd);
	return fd;
}

static void client_try_connect(struct riov_vhost_dev *dev)
{
	if (dev->conn_fd >= 0)
		return;
	int fd = client_connect(dev);
	if (fd >= 0 && vu_conn_open(dev, fd) == 0)
		return;
	schedule_reconnect(dev);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	client_try_connect(arg);
}

int vu_client_start(struct riov_vhost_dev *dev)
{
	int rc = dir_open(dev);
	if (rc)
		return rc;
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
		unlink_own(dev);
	dev->unlink_path = false;
	if (dev->dir_open)
		close(dev->dir_fd);
	dev->dir_open = false;
}

/* ---- confinement ------------------------------------------------------------------------------- */

/* The directory component comp (len bytes) under fd, opened without following a symlink; *nfd gets
 * it. Returns 0 or -errno with why filled. */
static int open_component(int fd, const char *comp, char *why, size_t whylen, int *nfd)
{
	struct stat st;

	*nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*nfd >= 0)
		return 0;
	int rc = -errno;
	if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
		snprintf(why, whylen, "'%s' is a symbolic link (links are not followed under "
			 "socket_dir)", comp);
		return -ELOOP;
	}
	if (rc == -ENOTDIR || rc == -ELOOP) {
		snprintf(why, whylen, "'%s' is not a directory", comp);
		return -ENOTDIR;
	}
	snprintf(why, whylen, "directory '%s': %s", comp, strerror(-rc));
	return rc;
}

/* The socket's name in its directory: free, or a socket (stale or served). Returns 0 or -errno. */
static int check_final(int fd, const char *name, char *why, size_t whylen)
{
	struct stat st;

	if (strlen(name) > NAME_MAX) {
		snprintf(why, whylen, "the name '%.32s...' is longer than %d bytes", name,
			 NAME_MAX);
		return -ENAMETOOLONG;
	}
	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, whylen, "'%s': %s", name, strerror(errno));
		return -errno;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(why, whylen, "'%s' is a symbolic link (links are not followed under "
			 "socket_dir)", name);
		return -ELOOP;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, whylen, "'%s' exists and is not a socket (riovd neither replaces nor "
			 "removes other files)", name);
		return -EEXIST;
	}
	return 0;
}

/* Walk rel (a path relative to the directory fd) component by component; *fd ends as the socket's
 * directory and *name points at the socket's name in rel. Returns 0 or -errno with why filled. */
static int walk(char *rel, int *fd, char **name, char *why, size_t whylen)
{
	char *p = rel;

	for (;;) {
		while (*p == '/')
			p++;
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (strcmp(p, "..") == 0) {
			snprintf(why, whylen, "'..' is not allowed");
			return -EINVAL;
		}
		if (!slash) {
			if (p[0] == '\0' || strcmp(p, ".") == 0) {
				snprintf(why, whylen, "it names a directory, not a socket");
				return -EINVAL;
			}
			*name = p;
			return check_final(*fd, p, why, whylen);
		}
		if (p[0] != '\0' && strcmp(p, ".") != 0) {
			int nfd, rc = open_component(*fd, p, why, whylen, &nfd);
			if (rc)
				return rc;
			close(*fd);
			*fd = nfd;
		}
		p = slash + 1;
	}
}

int riov_vhost_socket_confine(const char *root, const char *given, int *dir_fd, char *out,
			      size_t outlen, char *why, size_t whylen)
{
	char rel[PATH_MAX];
	size_t rl = strlen(root);
	char *name;

	*dir_fd = -1;
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (given[0] == '\0') {
		snprintf(why, whylen, "the path is empty");
		return -EINVAL;
	}
	if (given[0] == '/') {
		if (rl > 1 && (strncmp(given, root, rl) != 0 || given[rl] != '/')) {
			snprintf(why, whylen, "an absolute path must be inside socket_dir %.*s "
				 "(or give a path relative to it)", (int)rl, root);
			return -EINVAL;
		}
		given += rl;
	}
	if (strlen(given) >= sizeof(rel)) {
		snprintf(why, whylen, "the path is longer than %zu bytes", sizeof(rel) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(rel, given);
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		snprintf(why, whylen, "socket_dir %s: %s", root, strerror(-rc));
		return rc;
	}
	int rc = walk(rel, &fd, &name, why, whylen);
	if (rc == 0) {
		struct sockaddr_un sa;
		size_t cap = outlen < sizeof(sa.sun_path) ? outlen : sizeof(sa.sun_path);
		int n = snprintf(out, outlen, "/proc/self/fd/%d/%s", fd, name);
		if (n < 0 || (size_t)n >= cap) {
			size_t most = cap - 1 - ((size_t)n - strlen(name)); /* after the prefix */
			snprintf(why, whylen, "the name '%.32s...' is too long for a Unix socket "
				 "address (at most %zu bytes)", name, most);
			rc = -ENAMETOOLONG;
		}
	}
	if (rc) {
		close(fd);
		return rc;
	}
	*dir_fd = fd;
	return 0;
}
