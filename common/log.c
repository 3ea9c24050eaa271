/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The logger and its registry of components (common/log.h).
 *
 * Thread rules: registration happens in constructors (before main) and under reg_lock; the list is
 * only ever prepended to, so a reader holding reg_lock sees a consistent list. Levels are atomics:
 * logging never takes the lock. The sink (stderr or the journal) is decided once under
 * pthread_once, which also publishes it to every thread that logs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* program_invocation_short_name */
#endif
/* The journal sink needs libsystemd: meson builds log.c with RIOV_LOG_JOURNAL=1. Without it (the
 * lab's static programs, built with gcc alone against riov's sources) lines go to stderr only. */
#ifndef RIOV_LOG_JOURNAL
#define RIOV_LOG_JOURNAL 0
#endif
/* CODE_FILE/CODE_LINE would always name this file: leave them out. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if RIOV_LOG_JOURNAL
#include <systemd/sd-journal.h>
#endif
#include <time.h>
#include <unistd.h>

RIOV_LOG_COMPONENT("log", RIOV_LOG_INFO);

#define SPEC_MAX 512u

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct riov_log_comp *comps;

static const char *const level_names[] = {
	[RIOV_LOG_ERR] = "error", [RIOV_LOG_WARN] = "warning", [RIOV_LOG_NOTICE] = "notice",
	[RIOV_LOG_INFO] = "info", [RIOV_LOG_DEBUG] = "debug",
};

const char *riov_log_level_name(int level)
{
	return level >= RIOV_LOG_ERR && level <= RIOV_LOG_DEBUG ? level_names[level] : NULL;
}

static int parse_level(const char *s)
{
	for (int l = RIOV_LOG_ERR; l <= RIOV_LOG_DEBUG; l++)
		if (strcmp(s, level_names[l]) == 0)
			return l;
	if (strcmp(s, "warn") == 0)
		return RIOV_LOG_WARN;
	if (strcmp(s, "err") == 0)
		return RIOV_LOG_ERR;
	if (s[0] >= '3' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	return -1;
}

static bool name_matches(const char *pattern, const char *name)
{
	size_t n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '*')
		return strncmp(pattern, name, n - 1) == 0;
	return strcmp(pattern, name) == 0;
}

/* Parse (apply == false) or apply one setting; reg_lock held. */
static int apply_spec(const char *spec, bool apply, char *err, size_t errlen)
{
	char buf[SPEC_MAX], *save = NULL;

	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "log level setting longer than %u characters", SPEC_MAX - 1);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		const char *name = eq ? item : NULL;
		int level;
		bool any = false;

		if (eq)
			*eq = '\0';
		level = parse_level(eq ? eq + 1 : item);
		if (level < 0) {
			snprintf(err, errlen, "'%s': not a log level (error, warning, notice, info, debug "
				 "or 3-7)", eq ? eq + 1 : item);
			return -EINVAL;
		}
		if (name != NULL && (name[0] == '\0' || strlen(name) >= RIOV_LOG_NAME_MAX)) {
			snprintf(err, errlen, "'%s': not a component name", name);
			return -EINVAL;
		}
		for (struct riov_log_comp *c = comps; c != NULL; c = c->next) {
			if (name != NULL && !name_matches(name, c->name))
				continue;
			any = true;
			if (apply)
				atomic_store_explicit(&c->level, level, memory_order_relaxed);
		}
		if (!any && name != NULL) {
			snprintf(err, errlen, "'%s': no such log component (riovctl log levels lists them)",
				 name);
			return -EINVAL;
		}
	}
	return 0;
}

int riov_log_set(const char *spec, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&reg_lock);
	rc = apply_spec(spec, false, err, errlen);
	if (rc == 0)
		apply_spec(spec, true, err, errlen);
	pthread_mutex_unlock(&reg_lock);
	return rc;
}

void riov_log_set_level(enum riov_log_level level)
{
	pthread_mutex_lock(&reg_lock);
	for (struct riov_log_comp *c = comps; c != NULL; c = c->next)
		atomic_store_explicit(&c->level, (int)level, memory_order_relaxed);
	pthread_mutex_unlock(&reg_lock);
}

/* RIOV_LOG_LEVEL's items that concern c (a bad item is ignored here; riovd checks the variable
 * as a whole at start and refuses a bad one). */
static void apply_env(struct riov_log_comp *c)
{
	const char *env = getenv("RIOV_LOG_LEVEL");
	char buf[SPEC_MAX], *save = NULL;

	if (env == NULL || strlen(env) >= sizeof(buf))
		return;
	snprintf(buf, sizeof(buf), "%s", env);
	for (char *item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		int level;

		if (eq)
			*eq = '\0';
		level = parse_level(eq ? eq + 1 : item);
		if (level >= 0 && (eq == NULL || name_matches(item, c->name)))
			atomic_store_explicit(&c->level, level, memory_order_relaxed);
	}
}

void riov_log_comp_register(struct riov_log_comp *c)
{
	pthread_mutex_lock(&reg_lock);
	for (struct riov_log_comp *x = comps; x != NULL; x = x->next)
		if (x == c)
			goto out;
	apply_env(c);
	c->next = comps;
	comps = c;
out:
	pthread_mutex_unlock(&reg_lock);
}

static int cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct riov_log_info *)a)->name, ((const struct riov_log_info *)b)->name);
}

size_t riov_log_levels(struct riov_log_info *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&reg_lock);
	for (struct riov_log_comp *c = comps; c != NULL; c = c->next) {
		bool seen = false;
		for (struct riov_log_comp *e = comps; e != c && !seen; e = e->next)
			seen = strcmp(e->name, c->name) == 0;
		if (seen)
			continue;
		if (n < max) {
			snprintf(out[n].name, sizeof(out[n].name), "%s", c->name);
			out[n].level = atomic_load_explicit(&c->level, memory_order_relaxed);
			out[n].default_level = c->default_level;
		}
		n++;
	}
	pthread_mutex_unlock(&reg_lock);
	qsort(out, n < max ? n : max, sizeof(*out), cmp_info);
	return n;
}

int riov_log_is_journal_stream(int fd, const char *journal_stream)
{
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	/* systemd.exec(5): "<device>:<inode>", both decimal. Anything else is not ours. */
	if (journal_stream == NULL || journal_stream[0] < '0' || journal_stream[0] > '9')
		return 0;
	errno = 0;
	dev = strtoull(journal_stream, &end, 10);
	if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
		return 0;
	ino = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	if (fstat(fd, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static pthread_once_t sink_once = PTHREAD_ONCE_INIT;
static bool to_journal;

static void decide_sink(void)
{
	to_journal = RIOV_LOG_JOURNAL &&
		     riov_log_is_journal_stream(STDERR_FILENO, getenv("JOURNAL_STREAM")) == 1;
}

void riov_log_init(void)
{
	pthread_once(&sink_once, decide_sink);
}

int riov_log_to_journal(void)
{
	riov_log_init();
	return to_journal;
}

/* iov over buf after snprintf(buf, size, ...) returned n: what it holds, without the NUL */
static void field_iov(struct iovec *iov, char *buf, size_t size, int n)
{
	iov->iov_base = buf;
	iov->iov_len = n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* One "NAME=value" field in buf (cut to size); its iovec without the NUL. */
static void set_field(struct iovec *iov, char *buf, size_t size, const char *name, const char *value)
{
	field_iov(iov, buf, size, snprintf(buf, size, "%s%s", name, value ? value : ""));
}

size_t riov_log_journal_fields(struct riov_log_fields *f, enum riov_log_level level,
			       const char *ident, const char *component, const char *port,
			       const char *text)
{
	char prio[4];
	size_t n = 0;
	int m;

	m = snprintf(f->message, sizeof(f->message), "MESSAGE=%s: %s%s%s", component,
		     port ? port : "", port ? ": " : "", text);
	field_iov(&f->iov[n++], f->message, sizeof(f->message), m);
	/* syslog priorities are 0-7; riov's levels are already those numbers */
	snprintf(prio, sizeof(prio), "%d", (int)level >= 0 && (int)level <= 7 ? (int)level : 6);
	set_field(&f->iov[n++], f->priority, sizeof(f->priority), "PRIORITY=", prio);
	set_field(&f->iov[n++], f->ident, sizeof(f->ident), "SYSLOG_IDENTIFIER=", ident);
	set_field(&f->iov[n++], f->component, sizeof(f->component), "RIOV_COMPONENT=", component);
	if (port != NULL)
		set_field(&f->iov[n++], f->port, sizeof(f->port), "RIOV_PORT=", port);
	return n;
}

static pthread_mutex_t guests_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char port[RIOV_LOG_PORT_MAX];
	int pid;
} guests[RIOV_LOG_GUESTS_MAX];

void riov_log_port_guest(const char *port, int pid)
{
	int free_slot = -1;

	if (port == NULL || port[0] == '\0' || strlen(port) >= RIOV_LOG_PORT_MAX || pid < 0)
		return;
	pthread_mutex_lock(&guests_lock);
	for (int i = 0; i < RIOV_LOG_GUESTS_MAX; i++) {
		if (guests[i].pid != 0 && strcmp(guests[i].port, port) == 0) {
			guests[i].pid = pid;   /* 0: the slot is free again */
			pthread_mutex_unlock(&guests_lock);
			return;
		}
		if (guests[i].pid == 0 && free_slot < 0)
			free_slot = i;
	}
	if (pid > 0 && free_slot >= 0) {
		snprintf(guests[free_slot].port, sizeof(guests[free_slot].port), "%s", port);
		guests[free_slot].pid = pid;
	}
	pthread_mutex_unlock(&guests_lock);
}

int riov_log_port_guest_pid(const char *port)
{
	int pid = 0;

	if (port == NULL)
		return 0;
	pthread_mutex_lock(&guests_lock);
	for (int i = 0; i < RIOV_LOG_GUESTS_MAX; i++) {
		if (guests[i].pid != 0 && strcmp(guests[i].port, port) == 0) {
			pid = guests[i].pid;
			break;
		}
	}
	pthread_mutex_unlock(&guests_lock);
	return pid;
}

/* The line as journal fields; 0 or sd_journal_sendv()'s negative errno. */
static int vlog_journal(const char *comp, enum riov_log_level level, const char *port,
			const char *fmt, va_list ap)
{
#if !RIOV_LOG_JOURNAL
	(void)comp;
	(void)level;
	(void)port;
	(void)fmt;
	(void)ap;
	return -ENOSYS;
#else
	char text[RIOV_LOG_LINE_MAX];
	struct riov_log_fields f;
	size_t n;

	if (vsnprintf(text, sizeof(text), fmt, ap) < 0)
		return -EINVAL;
	n = riov_log_journal_fields(&f, level, program_invocation_short_name, comp, port, text);
	int pid = riov_log_port_guest_pid(port);
	if (pid > 0) {
		char v[12];
		snprintf(v, sizeof(v), "%d", pid);
		set_field(&f.iov[n++], f.guest, sizeof(f.guest), "RIOV_GUEST_PID=", v);
	}
	return sd_journal_sendv(f.iov, (int)n);
#endif
}

static void vlog(const char *comp, enum riov_log_level level, const char *port, const char *fmt,
		 va_list ap)
{
	char line[RIOV_LOG_LINE_MAX];
	const char *ln = riov_log_level_name((int)level);
	int n, m;

	if (riov_log_to_journal()) {
		va_list aq;
		int rc;

		va_copy(aq, ap);
		rc = vlog_journal(comp, level, port, fmt, aq);
		va_end(aq);
		if (rc >= 0)
			return;
		/* the journal socket is gone: stderr still reaches journald as plain text */
	}
	/* "<N>" prefix: sd-daemon(3) level markers, understood by journald, harmless on a terminal. */
	n = snprintf(line, sizeof(line), "<%d>%s %s: %s%s", (int)level, ln ? ln : "log", comp,
		     port ? port : "", port ? ": " : "");
	if (n < 0 || n >= (int)sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

void riov_log_comp(struct riov_log_comp *c, enum riov_log_level level, const char *fmt, ...)
{
	va_list ap;

	if ((int)level > atomic_load_explicit(&c->level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vlog(c->name, level, NULL, fmt, ap);
	va_end(ap);
}

void riov_log_comp_port(struct riov_log_comp *c, enum riov_log_level level, const char *port,
			const char *fmt, ...)
{
	va_list ap;

	if ((int)level > atomic_load_explicit(&c->level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	vlog(c->name, level, port, fmt, ap);
	va_end(ap);
}

int riov_ratelimit_ok(struct riov_ratelimit *rl, uint32_t burst, uint32_t interval_s)
{
	struct timespec ts;
	uint64_t now, start;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	start = atomic_load_explicit(&rl->window_start_ns, memory_order_relaxed);
	if (now - start >= (uint64_t)interval_s * 1000000000ull &&
	    atomic_compare_exchange_strong(&rl->window_start_ns, &start, now)) {
		/* this thread opened the new window */
		uint32_t missed = atomic_exchange(&rl->missed, 0);
		atomic_store(&rl->printed, 0);
		if (missed != 0)
			RIOV_LOG(RIOV_LOG_WARN, "%u similar messages suppressed", missed);
	}
	if (atomic_fetch_add_explicit(&rl->printed, 1, memory_order_relaxed) < burst)
		return 1;
	atomic_fetch_add_explicit(&rl->missed, 1, memory_order_relaxed);
	return 0;
}
