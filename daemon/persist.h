/* What survives a restart: one JSON record per named session in STATE_DIR/sessions/NAME.json
 * (its configuration and newest resumption handle), written atomically: a temp file, fsync,
 * rename, fsync of the directory. A crash leaves the old record or the new one, never half.
 * The state dir and sessions/ must be directories owned by gliveD's uid and writable by nobody
 * else ("unsafe_state_dir" otherwise); no link is ever followed there, and only regular files
 * owned by gliveD's uid are loaded. */
#ifndef GLD_PERSIST_H
#define GLD_PERSIST_H

#include <jansson.h>

#include "common/err.h"

/* At start: creates the dirs if missing (0700), checks them and that a file can be written.
 * -1 with err ("unsafe_state_dir", "io") if not: gliveD must not start on it. */
int gld_persist_check(const char *state_dir, gl_err *err);
int gld_persist_write(const char *state_dir, const char *name, const json_t *record, gl_err *err);
int gld_persist_remove(const char *state_dir, const char *name, gl_err *err);
/* Calls cb with each readable record (a borrowed object); files that cannot be read, are not a
 * JSON object or whose "name" is not their file name are logged and skipped. Returns the number
 * of records, or -1 if the directory cannot be read. */
int gld_persist_load_all(const char *state_dir, void (*cb)(const json_t *rec, void *ud), void *ud,
                         gl_err *err);

#endif
