/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's one logger: a component, a level, printf-style text to stderr as "<N>level component: text".
 * Anything a guest or peer can trigger goes through RIOV_LOG_RL, which is rate-limited per call
 * site. Thread-safe: one write(2) per line.
 *
 * Under systemd (stderr is the stream named by $JOURNAL_STREAM) lines go to the journal instead,
 * through sd_journal_sendv(), with fields: MESSAGE ("component: text", what stderr shows after the
 * level), PRIORITY, SYSLOG_IDENTIFIER, RIOV_COMPONENT and, for RIOV_LOG_PORT, RIOV_PORT. The sink
 * is decided once, at riov_log_init() or the first line, whichever comes first.
 *
 * Components: each source file names the one component it logs as, once, at the top:
 *
 *	RIOV_LOG_COMPONENT("vhost", RIOV_LOG_INFO);
 *
 * and logs with RIOV_LOG(level, fmt, ...) / RIOV_LOG_RL(level, fmt, ...). Files may share a name
 * ("vhost" is several files); a level set for a name applies to all of them. Each component starts
 * at its default (the control path at info, the data path at warning), then RIOV_LOG_LEVEL from
 * the environment applies, then riovd's `log_level` setting or --log-level, then Log.Set over the
 * API. A level check is one relaxed atomic load; text is formatted only for enabled lines.
 *
 * Thread rules: logging from any thread; levels may be changed from any thread (the control
 * thread in riovd) and take effect at the next line.
 */
#ifndef RIOV_COMMON_LOG_H
#define RIOV_COMMON_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum riov_log_level {
	RIOV_LOG_ERR = 3,
	RIOV_LOG_WARN = 4,
	RIOV_LOG_NOTICE = 5,
	RIOV_LOG_INFO = 6,
	RIOV_LOG_DEBUG = 7,
};

#define RIOV_LOG_NAME_MAX 32u   /* longest component name */
#define RIOV_LOG_LINE_MAX 1024u /* longest line; longer text is cut */
#define RIOV_LOG_PORT_MAX 64u   /* longest port name in RIOV_PORT (the text keeps it whole) */

/* A log component (one per file, see RIOV_LOG_COMPONENT). Fields are the logger's. */
struct riov_log_comp {
	const char *name;
	int default_level;
	_Atomic int level;
	struct riov_log_comp *next;
};

/** Add a component to the registry (RIOV_LOG_COMPONENT's constructor does it) and apply
 *  RIOV_LOG_LEVEL's setting for it. Registering the same one twice is harmless. */
void riov_log_comp_register(struct riov_log_comp *c);

/** Print one line "<level> <component>: text" if level is enabled for c. */
void riov_log_comp(struct riov_log_comp *c, enum riov_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Print one line "<level> <component>: <port>: text" if level is enabled for c; in the journal
 *  also RIOV_PORT=<port>. port NULL: as riov_log_comp(). */
void riov_log_comp_port(struct riov_log_comp *c, enum riov_log_level level, const char *port,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Name this file's component and its default level (file scope, once per file). */
#define RIOV_LOG_COMPONENT(name_, level_)                                                     \
	static struct riov_log_comp riov_log_comp_ = { .name = (name_),                       \
						       .default_level = (level_),             \
						       .level = (level_) };                   \
	__attribute__((constructor)) static void riov_log_comp_init_(void)                   \
	{                                                                                     \
		riov_log_comp_register(&riov_log_comp_);                                      \
	}                                                                                     \
	struct riov_log_comp_semicolon_

#define RIOV_LOG_ENABLED(lvl_)                                                                \
	((int)(lvl_) <= atomic_load_explicit(&riov_log_comp_.level, memory_order_relaxed))

/* Log as this file's component. */
#define RIOV_LOG(lvl_, ...)                                                                   \
	do {                                                                                  \
		if (RIOV_LOG_ENABLED(lvl_))                                                   \
			riov_log_comp(&riov_log_comp_, (lvl_), __VA_ARGS__);                  \
	} while (0)

/* Per-call-site rate limiter: at most `burst` lines per `interval_s` seconds; reports how many it dropped. */
struct riov_ratelimit {
	_Atomic uint64_t window_start_ns;
	_Atomic uint32_t printed;
	_Atomic uint32_t missed;
};

/** Return 1 if a line may be printed now. Lock-free and safe from any thread; a race at a window
 *  boundary may let one extra line through. */
int riov_ratelimit_ok(struct riov_ratelimit *rl, uint32_t burst, uint32_t interval_s);

/* Log as this file's component, at most 10 lines per 5 s from this call site. A disabled level
 * costs no rate-limit budget. */
#define RIOV_LOG_RL(lvl_, ...)                                                                \
	do {                                                                                  \
		static struct riov_ratelimit rl_;                                             \
		if (RIOV_LOG_ENABLED(lvl_) && riov_ratelimit_ok(&rl_, 10, 5))                 \
			riov_log_comp(&riov_log_comp_, (lvl_), __VA_ARGS__);                  \
	} while (0)

/* Log about a port as this file's component: the same text as RIOV_LOG(lvl, "%s: " fmt, port, ...)
 * and, in the journal, RIOV_PORT=<port>. */
#define RIOV_LOG_PORT(lvl_, port_, ...)                                                       \
	do {                                                                                  \
		if (RIOV_LOG_ENABLED(lvl_))                                                   \
			riov_log_comp_port(&riov_log_comp_, (lvl_), (port_), __VA_ARGS__);    \
	} while (0)

/* RIOV_LOG_PORT, rate-limited as RIOV_LOG_RL. */
#define RIOV_LOG_PORT_RL(lvl_, port_, ...)                                                    \
	do {                                                                                  \
		static struct riov_ratelimit rl_;                                             \
		if (RIOV_LOG_ENABLED(lvl_) && riov_ratelimit_ok(&rl_, 10, 5))                 \
			riov_log_comp_port(&riov_log_comp_, (lvl_), (port_), __VA_ARGS__);    \
	} while (0)

/**
 * Apply a level setting: a comma-separated list of LEVEL (every component) and NAME=LEVEL (one
 * component; NAME may end in '*' to match a prefix), applied left to right, e.g.
 * "info,vhost=debug,dp*=warning". LEVEL is a name (error, warning, notice, info, debug) or its
 * number (3-7). Nothing is applied unless the whole setting is valid.
 * @return 0; -EINVAL with err naming the bad item (bad syntax, unknown level, or a NAME that
 *         matches no component).
 */
int riov_log_set(const char *spec, char *err, size_t errlen);

/** Set every component to level (tests and fuzzers quieten riov this way). */
void riov_log_set_level(enum riov_log_level level);

/** The level's name ("warning"), or NULL for a number that is not a level. */
const char *riov_log_level_name(int level);

/* One component's setting, as riov_log_levels() reports it. */
struct riov_log_info {
	char name[RIOV_LOG_NAME_MAX];
	int level;
	int default_level;
};

/**
 * The components, sorted by name, one entry per name.
 * @return how many there are (entries beyond max are not written).
 */
size_t riov_log_levels(struct riov_log_info *out, size_t max);

/** Decide where lines go (stderr or the journal, see above) now rather than at the first line.
 *  riovd calls it early in main; calling it again changes nothing. Thread-safe. */
void riov_log_init(void);

/** 1 if lines go to the journal, 0 if to stderr (decides first if nobody has). */
int riov_log_to_journal(void);

/**
 * Whether fd is the stream systemd connected to the journal: journal_stream is $JOURNAL_STREAM,
 * "<dev>:<inode>" in decimal (systemd.exec(5)), and fd's fstat(2) must match both.
 * @return 1 if it is; 0 if journal_stream is NULL or malformed, fd is another file or fstat fails.
 */
int riov_log_is_journal_stream(int fd, const char *journal_stream);

/* Journal fields of one line: the buffers the iovecs point at, all bounded, on the caller's stack. */
enum { RIOV_LOG_FIELDS_MAX = 6 };
struct riov_log_fields {
	struct iovec iov[RIOV_LOG_FIELDS_MAX];
	char message[sizeof("MESSAGE=") + RIOV_LOG_LINE_MAX];
	char priority[sizeof("PRIORITY=") + 2];
	char ident[sizeof("SYSLOG_IDENTIFIER=") + RIOV_LOG_NAME_MAX];
	char component[sizeof("RIOV_COMPONENT=") + RIOV_LOG_NAME_MAX];
	char port[sizeof("RIOV_PORT=") + RIOV_LOG_PORT_MAX];
	char guest[sizeof("RIOV_GUEST_PID=") + 12];
};

/**
 * Fill f with one line's journal fields: MESSAGE=<component>: [<port>: ]<text>, PRIORITY=<level>,
 * SYSLOG_IDENTIFIER=<ident>, RIOV_COMPONENT=<component> and, if port is not NULL,
 * RIOV_PORT=<port>. Each field is one iovec without a trailing newline; text may hold newlines
 * (sd_journal_sendv() sends such values length-prefixed). Values too long are cut. No allocation,
 * no I/O.
 * @return the number of iovecs filled (4 or 5).
 */
size_t riov_log_journal_fields(struct riov_log_fields *f, enum riov_log_level level,
			       const char *ident, const char *component, const char *port,
			       const char *text);

/* The guest behind a port: the process at the other end of its vhost-user socket (SO_PEERCRED),
 * which the journal gets as RIOV_GUEST_PID=<pid> on that port's lines (with RIOV_PORT). A small
 * table (RIOV_LOG_GUESTS_MAX ports), any thread. */
enum { RIOV_LOG_GUESTS_MAX = 256 };

/** Name port's guest process (pid > 0), or forget it (pid 0). A full table forgets nothing and
 *  records nothing new: those lines then have no RIOV_GUEST_PID. */
void riov_log_port_guest(const char *port, int pid);

/** The pid recorded for port, 0 if none. */
int riov_log_port_guest_pid(const char *port);

#endif
