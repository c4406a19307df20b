/* The line protocol's ops (proto/PROTOCOL.md): parses a request line, runs the op against the
 * sessions, and writes exactly one reply. */
#ifndef GLD_DISPATCH_H
#define GLD_DISPATCH_H

#include <stddef.h>

#include "daemon/daemon.h"

void gld_dispatch_line(gld_daemon *d, ipc_client *c, const char *line, size_t len);
void gld_dispatch_disconnect(gld_daemon *d, ipc_client *c);
/* c has turns, queued prompts or calls still going on in some session (a half-closed client
 * stays open for their events until this is false). */
bool gld_dispatch_busy(gld_daemon *d, ipc_client *c);
/* c has caught up on its output (ipc's on_drain): the sessions waiting for it read again. */
void gld_dispatch_drained(gld_daemon *d, ipc_client *c);

#endif
