/* The line protocol's ops (proto/PROTOCOL.md): parses a request line, runs the op against the
 * sessions, and writes exactly one reply. */
#ifndef GLD_DISPATCH_H
#define GLD_DISPATCH_H

#include <stddef.h>

#include "daemon/daemon.h"

void gld_dispatch_line(gld_daemon *d, ipc_client *c, const char *line, size_t len);
void gld_dispatch_disconnect(gld_daemon *d, ipc_client *c);

#endif
