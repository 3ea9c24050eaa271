/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user socket files (vmm/vhost_socket.c): a device binds, connects and unlinks through its
 * socket's directory fd; it removes only the socket it bound (a file put at the name afterwards
 * stays); a client does not follow a symbolic link at the socket's name; paths from
 * riov_vhost_socket_confine() keep working after the caller closed its directory fd, even when
 * the directory was renamed and a link to elsewhere put in its place.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "iommu/vtd.h"
#include "riov_test.h"
#include "vmm/vhost.h"

static void t_start(void *ctx, struct riov_vhost_dev *dev, const struct riov_vhost_vring_info *vi)
{
}

static void t_stop(void *ctx, struct riov_vhost_dev *dev, uint16_t qid, uint16_t *la, uint16_t *lu)
{
}

static int links_up;

static void t_link(void *ctx, struct riov_vhost_dev *dev, bool up)
{
	links_up += up;
}

static const struct riov_vhost_ops t_ops = { .vring_start = t_start, .vring_stop = t_stop,
					     .link_change = t_link };

struct fx {
	char dir[64];                 /* the test's socket_dir */
	char out[80];                 /* a directory outside it */
	struct event_base *base;
	struct riov_vtd *vtd;
};

static void fx_init(struct fx *f)
{
	struct riov_vtd_config vc = { .aw_bits = 48, .fault_log_size = 16, .irte_count = 256 };

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/riov-vsock-ut.XXXXXX");
	CHECK(mkdtemp(f->dir) != NULL);
	snprintf(f->out, sizeof(f->out), "%s.out", f->dir);
	CHECK_EQ(mkdir(f->out, 0755), 0);
	f->base = event_base_new();
	f->vtd = riov_vtd_create(&vc);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void fx_fini(struct fx *f)
{
	riov_vtd_destroy(f->vtd);
	event_base_free(f->base);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	nftw(f->out, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A device at path (any path, or one from riov_vhost_socket_confine()). Returns 0 or -errno. */
static int dev_create(struct fx *f, const char *path, enum riov_vhost_mode mode,
		      struct riov_vhost_dev **dev)
{
	struct riov_vhost_dev_params p = {
		.name = "ut0", .path = path, .mode = mode, .max_queue_pairs = 1, .base = f->base,
		.vtd = f->vtd, .sid = 0x108, .did = 7, .s1_did = 8, .irte_base = 16, .ops = &t_ops,
	};
	return riov_vhost_dev_create(&p, dev);
}

/* A device at rel under the test's socket_dir, created the way control/svc_port.c does. */
static int confined_create(struct fx *f, const char *rel, enum riov_vhost_mode mode,
			   struct riov_vhost_dev **dev)
{
	char path[108], why[256];
	int dfd;
	int rc = riov_vhost_socket_confine(f->dir, rel, &dfd, path, sizeof(path), why, sizeof(why));

	if (rc)
		return rc;
	rc = dev_create(f, path, mode, dev);
	close(dfd);
	return rc;
}

static mode_t kind(const char *dir, const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0 ? st.st_mode & S_IFMT : 0;
}

static void put_file(const char *dir, const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0);
	close(fd);
}

static int listen_at(const char *dir, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, name);
	CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(listen(fd, 4), 0);
	return fd;
}

RIOV_TEST(destroy_removes_only_its_own_socket)
{
	struct fx f;
	struct riov_vhost_dev *dev = NULL;
	char p[256];

	fx_init(&f);
	CHECK_EQ(confined_create(&f, "vm.sock", RIOV_VHOST_SERVER, &dev), 0);
	CHECK_EQ(kind(f.dir, "vm.sock"), S_IFSOCK);
	riov_vhost_dev_destroy(dev);
	CHECK_EQ(kind(f.dir, "vm.sock"), 0);        /* its own socket: removed */

	/* someone replaced the socket with another file: destroy leaves that file in place */
	CHECK_EQ(confined_create(&f, "vm.sock", RIOV_VHOST_SERVER, &dev), 0);
	snprintf(p, sizeof(p), "%s/vm.sock", f.dir);
	CHECK_EQ(unlink(p), 0);
	put_file(f.dir, "vm.sock");
	riov_vhost_dev_destroy(dev);
	CHECK_EQ(kind(f.dir, "vm.sock"), S_IFREG);
	CHECK_EQ(unlink(p), 0);

	/* ... or with another socket (a new inode at the same name) */
	CHECK_EQ(confined_create(&f, "vm.sock", RIOV_VHOST_SERVER, &dev), 0);
	CHECK_EQ(unlink(p), 0);
	int other = listen_at(f.dir, "vm.sock");
	riov_vhost_dev_destroy(dev);
	CHECK_EQ(kind(f.dir, "vm.sock"), S_IFSOCK);
	close(other);
	fx_fini(&f);
}

RIOV_TEST(socket_stays_in_the_checked_directory)
{
	struct fx f;
	struct riov_vhost_dev *dev = NULL;
	char sub[128], moved[128], path[108], why[256];
	int dfd;

	fx_init(&f);
	snprintf(sub, sizeof(sub), "%s/sub", f.dir);
	snprintf(moved, sizeof(moved), "%s/moved", f.dir);
	CHECK_EQ(mkdir(sub, 0755), 0);
	CHECK_EQ(riov_vhost_socket_confine(f.dir, "sub/vm.sock", &dfd, path, sizeof(path), why,
					   sizeof(why)), 0);
	/* between the check and the bind, sub is renamed and a link to outside put in its place */
	CHECK_EQ(rename(sub, moved), 0);
	CHECK_EQ(symlink(f.out, sub), 0);
	CHECK_EQ(dev_create(&f, path, RIOV_VHOST_SERVER, &dev), 0);
	close(dfd);
	CHECK_EQ(kind(f.out, "vm.sock"), 0);        /* nothing outside */
	CHECK_EQ(kind(moved, "vm.sock"), S_IFSOCK); /* in the directory that was checked */
	put_file(f.out, "vm.sock");
	riov_vhost_dev_destroy(dev);
	CHECK_EQ(kind(moved, "vm.sock"), 0);
	CHECK_EQ(kind(f.out, "vm.sock"), S_IFREG);  /* not unlinked through the link */
	fx_fini(&f);
}

RIOV_TEST(server_does_not_replace_other_files)
{
	struct fx f;
	struct riov_vhost_dev *dev = NULL;
	char p[256];

	fx_init(&f);
	/* a regular file at the name (put after the check): refused, left alone */
	put_file(f.dir, "vm.sock");
	snprintf(p, sizeof(p), "%s/vm.sock", f.dir);
	CHECK_EQ(dev_create(&f, p, RIOV_VHOST_SERVER, &dev), -EADDRINUSE);
	CHECK_EQ(kind(f.dir, "vm.sock"), S_IFREG);
	CHECK_EQ(unlink(p), 0);
	/* a link to a stale socket elsewhere: neither the link nor the socket removed */
	int s = listen_at(f.out, "stale.sock");
	close(s);
	snprintf(p, sizeof(p), "%s/stale.sock", f.out);
	char l[256];
	snprintf(l, sizeof(l), "%s/vm.sock", f.dir);
	CHECK_EQ(symlink(p, l), 0);
	CHECK_EQ(dev_create(&f, l, RIOV_VHOST_SERVER, &dev), -EADDRINUSE);
	CHECK_EQ(kind(f.dir, "vm.sock"), S_IFLNK);
	CHECK_EQ(kind(f.out, "stale.sock"), S_IFSOCK);
	CHECK_EQ(unlink(l), 0);
	/* a stale socket of an earlier riovd at the name itself is still replaced */
	s = listen_at(f.dir, "vm.sock");
	close(s);
	CHECK_EQ(dev_create(&f, l, RIOV_VHOST_SERVER, &dev), 0);
	riov_vhost_dev_destroy(dev);
	CHECK_EQ(kind(f.dir, "vm.sock"), 0);
	fx_fini(&f);
}

RIOV_TEST(client_does_not_follow_a_link)
{
	struct fx f;
	struct riov_vhost_dev *dev = NULL;
	char target[256], l[256];

	fx_init(&f);
	int s = listen_at(f.out, "peer.sock");       /* a live socket outside socket_dir */
	snprintf(target, sizeof(target), "%s/peer.sock", f.out);
	snprintf(l, sizeof(l), "%s/vm.sock", f.dir);
	CHECK_EQ(symlink(target, l), 0);
	links_up = 0;
	CHECK_EQ(dev_create(&f, l, RIOV_VHOST_CLIENT, &dev), 0);
	int c = accept(s, NULL, NULL);
	CHECK(c < 0);                               /* not connected through the link */
	CHECK_EQ(links_up, 0);
	riov_vhost_dev_destroy(dev);
	CHECK_EQ(kind(f.dir, "vm.sock"), S_IFLNK);   /* a client never unlinks */
	CHECK_EQ(unlink(l), 0);
	/* a socket at the name itself: connected */
	int s2 = listen_at(f.dir, "vm.sock");
	CHECK_EQ(confined_create(&f, "vm.sock", RIOV_VHOST_CLIENT, &dev), 0);
	CHECK_EQ(links_up, 1);
	riov_vhost_dev_destroy(dev);
	CHECK_EQ(kind(f.dir, "vm.sock"), S_IFSOCK);
	close(s2);
	close(s);
	fx_fini(&f);
}

RIOV_TEST(confine_rules)
{
	struct fx f;
	char path[108], why[256], abs[128];
	int dfd = -1;

	fx_init(&f);
	CHECK_EQ(riov_vhost_socket_confine(f.dir, "../x", &dfd, path, sizeof(path), why,
					   sizeof(why)), -EINVAL);
	CHECK_EQ(dfd, -1);
	CHECK_EQ(riov_vhost_socket_confine(f.dir, "", &dfd, path, sizeof(path), why, sizeof(why)),
		 -EINVAL);
	CHECK_EQ(riov_vhost_socket_confine(f.dir, "/tmp/x", &dfd, path, sizeof(path), why,
					   sizeof(why)), -EINVAL);
	CHECK_EQ(riov_vhost_socket_confine(f.dir, "nodir/x", &dfd, path, sizeof(path), why,
					   sizeof(why)), -ENOENT);
	CHECK_EQ(symlink(f.out, strcat(strcpy(abs, f.dir), "/l")), 0);
	CHECK_EQ(riov_vhost_socket_confine(f.dir, "l/x", &dfd, path, sizeof(path), why,
					   sizeof(why)), -ELOOP);
	CHECK_EQ(riov_vhost_socket_confine(f.dir, "l", &dfd, path, sizeof(path), why,
					   sizeof(why)), -ELOOP);
	put_file(f.dir, "f");
	CHECK_EQ(riov_vhost_socket_confine(f.dir, "f", &dfd, path, sizeof(path), why,
					   sizeof(why)), -EEXIST);
	CHECK_EQ(riov_vhost_socket_confine(f.dir, "f/x", &dfd, path, sizeof(path), why,
					   sizeof(why)), -ENOTDIR);
	/* socket_dir given with a trailing slash; an absolute path inside */
	snprintf(abs, sizeof(abs), "%s/ok.sock", f.dir);
	char root[80];
	snprintf(root, sizeof(root), "%s/", f.dir);
	CHECK_EQ(riov_vhost_socket_confine(root, abs, &dfd, path, sizeof(path), why, sizeof(why)),
		 0);
	CHECK(dfd >= 0 && strncmp(path, "/proc/self/fd/", 14) == 0);
	CHECK(strcmp(strrchr(path, '/'), "/ok.sock") == 0);
	close(dfd);
	fx_fini(&f);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(destroy_removes_only_its_own_socket),
	       RIOV_TEST_ENTRY(socket_stays_in_the_checked_directory),
	       RIOV_TEST_ENTRY(server_does_not_replace_other_files),
	       RIOV_TEST_ENTRY(client_does_not_follow_a_link), RIOV_TEST_ENTRY(confine_rules))
