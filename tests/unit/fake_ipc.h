/* A test double for daemon/ipc.h: clients without sockets or an event loop, for unit tests of
 * the code above ipc (tools, sessions, dispatch). tests/unit/fake_ipc.c defines every function
 * ipc.h declares, and the Makefile links it before libglive-daemon.a (TEST_EXTRA_test_x :=
 * tests/unit/fake_ipc.c), so the real ipc.o is never pulled in.
 *
 * What the ipc.h functions do here:
 *   ipc_send           appends the line to the client's output and returns 0; -1 once the client
 *                      is closed or made failing. A line not ending in '\n' is a caller bug: it
 *                      aborts.
 *   ipc_client_close   marks the client closed (flush or not); no on_disconnect (no server).
 *   ipc_client_id/uid/pid, _set_data/_data   the id given, getuid() (or fake_ipc_set_uid's),
 *                      1000 + id, the pointer.
 *   ipc_start          fails ("internal"); ipc_stop does nothing; ipc_get_stats counts the
 *                      fake clients not yet freed, all byte and line counters 0.
 *   ipc_client_lagging / _caught_up   what fake_ipc_set_unwritten says, against the marks
 *                      FAKE_IPC_FLOW_HIGH / _LOW; _hold / _release count (fake_ipc_holds). */
#ifndef GL_FAKE_IPC_H
#define GL_FAKE_IPC_H

#include <stdbool.h>

#include "daemon/ipc.h"

ipc_client *fake_ipc_client_new(unsigned id);
void fake_ipc_client_free(ipc_client *c);
/* Every line sent to c since the last clear, in order, NUL-terminated ("" if none). Valid until
 * the next ipc_send to c, clear, next_line or free. */
const char *fake_ipc_output(ipc_client *c);
void fake_ipc_clear(ipc_client *c);
/* Removes and returns the first line sent to c (without its newline; a static buffer valid until
 * the next call), or NULL if none. */
const char *fake_ipc_next_line(ipc_client *c);
bool fake_ipc_closed(const ipc_client *c);
/* While failing, ipc_send to c fails as if c were a slow reader being dropped. */
void fake_ipc_set_failing(ipc_client *c, bool failing);
/* c's peer uid from now on (the ownership rules of daemon/access.h). */
void fake_ipc_set_uid(ipc_client *c, uid_t uid);
/* Flow control: c's unwritten output from now on (bytes; lines sent do not add to it), and how
 * many sessions hold c. */
#define FAKE_IPC_FLOW_HIGH ((size_t)1 << 20)
#define FAKE_IPC_FLOW_LOW (FAKE_IPC_FLOW_HIGH / 4)
void fake_ipc_set_unwritten(ipc_client *c, size_t n);
unsigned fake_ipc_holds(const ipc_client *c);

#endif
