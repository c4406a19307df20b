/* What survives a restart: one JSON record per named session in STATE_DIR/sessions/NAME.json
 * (its configuration and newest resumption handle), written atomically: a temp file, fsync,
 * rename, fsync of the directory. A crash leaves the old record or the new one, never half. */
#ifndef GLD_PERSIST_H
#define GLD_PERSIST_H

#include <jansson.h>

#include "common/err.h"

int gld_persist_write(const char *state_dir, const char *name, const json_t *record, gl_err *err);
int gld_persist_remove(const char *state_dir, const char *name, gl_err *err);
/* Calls cb with each readable record (a borrowed object); files that cannot be read, are not a
 * JSON object or whose "name" is not their file name are logged and skipped. Returns the number
 * of records, or -1 if the directory cannot be read. */
int gld_persist_load_all(const char *state_dir, void (*cb)(const json_t *rec, void *ud), void *ud,
                         gl_err *err);

#endif
