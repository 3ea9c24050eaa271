/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Calling riovd's service handlers directly in unit tests: a service (control/service_internal.h)
 * on the dataplane double (dp_double.h) and a temporary state directory, and an RPC server
 * without transports whose method table is the service library's (svc_register_all()), from
 * which a test takes a method's handler and role. A call keeps what the handler allocated until
 * the test has looked at the answer.
 */
#ifndef RIOV_TESTS_UNIT_CONTROL_SVC_FIXTURE_H
#define RIOV_TESTS_UNIT_CONTROL_SVC_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/config.h"
#include "control/rpc_server_internal.h"
#include "control/service_internal.h"
#include "control/state_store.h"
#include "dp_double.h"

struct svc_fixture {
	struct riov_config cfg;
	struct riov_dp *dp;
	struct riov_service *svc;
	struct riov_rpc_server *rpc;
	char dir[64];        /* state_dir */
	struct event_base *base;   /* the service's loop: NULL (none, no timers) unless the test sets one */
};

/* The server's entry of a method, or NULL. */
static inline struct rpc_entry *fixture_entry(struct svc_fixture *f, const char *method)
{
	for (size_t i = 0; i < f->rpc->n_entries; i++)
		if (strcmp(f->rpc->entries[i].name, method) == 0)
			return &f->rpc->entries[i];
	return NULL;
}

/* Start a service the way riovd does (create, restore), its state in f->dir: a new temporary
 * directory, or the one f->dir names already. Returns 0 or -errno. */
static inline int fixture_open(struct svc_fixture *f)
{
	struct riov_rpc_config rc = { 0 };
	char err[512] = "";
	int rc_;

	if (f->dir[0] == '\0') {
		snprintf(f->dir, sizeof(f->dir), "/tmp/riov-svc-test.XXXXXX");
		if (mkdtemp(f->dir) == NULL)
			return -errno;
	}
	snprintf(f->cfg.state_dir, sizeof(f->cfg.state_dir), "%s", f->dir);
	/* vhost socket paths are confined to an existing socket_dir: one inside the state dir */
	snprintf(f->cfg.socket_dir, sizeof(f->cfg.socket_dir), "%s/sockets", f->dir);
	mkdir(f->cfg.socket_dir, 0755);
	f->dp = dp_double_create();
	if (f->dp == NULL)
		return -ENOMEM;
	struct riov_service_params p = { .cfg = &f->cfg, .dp = f->dp, .base = f->base };
	if ((rc_ = riov_service_create(&p, &f->svc, err, sizeof(err))) != 0 ||
	    (rc_ = riov_service_restore(f->svc, err, sizeof(err))) != 0 ||
	    (rc_ = riov_rpc_server_new(NULL, &rc, &f->rpc, err, sizeof(err))) != 0 ||
	    (rc_ = svc_register_all(f->rpc, err, sizeof(err))) != 0) {
		fprintf(stderr, "  fixture: %s\n", err);
		return rc_;
	}
	riov_rpc_server_set_user(f->rpc, f->svc);
	return 0;
}

/* Stop the service (the state directory stays for a restart: fixture_open() again). */
static inline void fixture_stop(struct svc_fixture *f)
{
	riov_rpc_server_free(f->rpc);
	riov_service_destroy(f->svc);
	dp_double_destroy(f->dp);
	f->rpc = NULL;
	f->svc = NULL;
	f->dp = NULL;
}

/* Stop the service and remove its state directory. */
static inline void fixture_close(struct svc_fixture *f)
{
	char path[512];
	DIR *d;
	struct dirent *de;

	fixture_stop(f);
	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
			if (unlink(path) != 0)
				rmdir(path);
		}
		closedir(d);
	}
	rmdir(f->dir);
	f->dir[0] = '\0';
}

/* Make the state file unwritable (a directory where state.pb goes: the atomic rename fails, for
 * root too) or writable again. */
static inline void fixture_state_writable(struct svc_fixture *f, bool writable)
{
	char file[128], kept[140];

	snprintf(file, sizeof(file), "%s/%s", f->dir, RIOV_STATE_FILE);
	snprintf(kept, sizeof(kept), "%s.kept", file);
	if (!writable) {
		rename(file, kept);
		mkdir(file, 0700);
	} else {
		rmdir(file);
		rename(kept, file);
	}
}

/* One call of a handler, as the RPC server makes it. */
struct svc_call {
	struct riov_rpc_call c;
	ProtobufCMessage *resp;
	char msg[512];
	int rc;
};

/* Call method's handler with req (a message of its request type) as an admin client. Returns
 * the handler's result (0, a status, or -errno); t->resp and t->msg hold its answer until
 * svc_call_end(t). */
static inline int svc_call(struct svc_fixture *f, struct svc_call *t, const char *method,
			   const void *req)
{
	struct rpc_entry *e = fixture_entry(f, method);

	memset(t, 0, sizeof(*t));
	if (e == NULL) {
		fprintf(stderr, "  no handler for %s\n", method);
		return t->rc = -ENOSYS;
	}
	t->c = (struct riov_rpc_call){ .srv = f->rpc, .entry = e, .role = RIOV_ROLE_ADMIN,
				       .peer = "unit test" };
	t->rc = e->handler(&t->c, req, &t->resp, t->msg, sizeof(t->msg));
	return t->rc;
}

static inline void svc_call_end(struct svc_call *t)
{
	rpc_call_release(&t->c);
}

#endif
