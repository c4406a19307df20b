/* A test double for daemon/ipc.h: in-memory clients, no sockets. tests/unit/fake_ipc.c implements
 * every function of ipc.h, so a unit test linking it never pulls the real daemon/ipc.o from the
 * daemon's library (see TEST_EXTRA_* in the Makefile). What the daemon sends to a client with
 * ipc_send() accumulates in that client's output, which the test reads and clears. */
#ifndef GL_FAKE_IPC_H
#define GL_FAKE_IPC_H

#include "daemon/ipc.h"

ipc_client *fake_ipc_client_new(unsigned id);
void fake_ipc_client_free(ipc_client *c);
/* Everything sent to c since the last clear, NUL-terminated (lines end in '\n'). */
const char *fake_ipc_output(ipc_client *c);
void fake_ipc_clear(ipc_client *c);
/* Removes and returns the first line sent to c (without its newline; static buffer, valid until
 * the next call), or NULL if none. */
const char *fake_ipc_next_line(ipc_client *c);
/* After this, ipc_send to c fails as if c were a slow reader being dropped. */
void fake_ipc_set_failing(ipc_client *c, bool failing);

#endif
