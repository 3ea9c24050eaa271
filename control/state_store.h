/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's state file: <dir>/state.pb holds the last acknowledged desired state (a packed
 * riov.v1.State, but this module only sees bytes). Every write is atomic: a temporary file in the
 * same directory is written and fsync'd, renamed over state.pb, and the directory is fsync'd, so
 * after a crash the file holds one complete acknowledged write (the last one, or the one being
 * written when the crash came after its rename).
 *
 * On disk: "RIOVST01" magic, 8-byte big-endian payload length, SHA-256 of the payload, payload.
 * A file that is short, has a wrong magic, length or digest is corrupt: riov_state_store_read()
 * (riovd's start) says so and moves it aside to state.pb.corrupt-<unix time>, it is never
 * silently dropped; riov_state_store_peek() (read-only callers) only says so.
 *
 * Control thread only (one writer per directory).
 */
#ifndef RIOV_CONTROL_STATE_STORE_H
#define RIOV_CONTROL_STATE_STORE_H

#include <stddef.h>
#include <stdint.h>

#define RIOV_STATE_FILE "state.pb"
#define RIOV_STATE_MAX (64u << 20) /* largest state accepted when reading */

struct riov_state_store;

/**
 * Open the store in dir (created with mode 0750 if missing). Temporary files left by a crash
 * (state.pb.tmp*) are removed.
 * @return 0 with *out set, or a negative errno with err filled.
 */
int riov_state_store_open(const char *dir, struct riov_state_store **out, char *err,
			  size_t errlen);

/** Close the store (NULL is fine). */
void riov_state_store_close(struct riov_state_store *st);

/** @return the path of the state file ("<dir>/state.pb"). */
const char *riov_state_store_path(const struct riov_state_store *st);

/* riov_state_store_write(): the file was replaced, the directory's fsync failed. */
#define RIOV_STATE_STORE_NOT_SYNCED 1

/**
 * Atomically replace the state file with buf. Returns only after the data and the rename are
 * on stable storage (fsync of the file and of the directory).
 * @return 0; a negative errno with err filled when a step before the rename failed (the old file
 *         is then left as it was); or RIOV_STATE_STORE_NOT_SYNCED with err filled when the
 *         rename was done (state.pb is the new state for readers and the next start) but the
 *         directory's fsync failed (durability across a power loss unconfirmed; the next good
 *         write confirms it).
 */
int riov_state_store_write(struct riov_state_store *st, const void *buf, size_t len, char *err,
			   size_t errlen);

/**
 * Read the state file.
 * @param buf set to a malloc'd copy of the payload (free() it); NULL when len is 0
 * @return 0 with *buf and *len set; -ENOENT when there is no state file (first start); -EBADMSG when
 *         the file was corrupt or truncated: it has been moved aside and err names both paths;
 *         other negative errno on I/O errors (with err filled).
 */
int riov_state_store_read(struct riov_state_store *st, void **buf, size_t *len, char *err,
			  size_t errlen);

/**
 * Read the state file without repairing anything, for read-only callers (Config.Show --saved):
 * as riov_state_store_read(), but a corrupt file is reported (-EBADMSG, err says why) and left
 * where it is. The directory is not changed.
 */
int riov_state_store_peek(struct riov_state_store *st, void **buf, size_t *len, char *err,
			  size_t errlen);

/**
 * Move the state file aside as state.pb.corrupt-<time> (for a caller whose payload does not
 * decode as a State). @param moved_to receives the new path.
 * @return 0, or a negative errno.
 */
int riov_state_store_quarantine(struct riov_state_store *st, char *moved_to, size_t len);

#endif
