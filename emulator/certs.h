/* The emulator's own tiny PKI: a CA and a server certificate for 127.0.0.1, ::1 and localhost,
 * created on first use in a directory. Clients trust DIR/ca.pem. */
#ifndef EMU_CERTS_H
#define EMU_CERTS_H

#include "common/err.h"

/* Creates DIR (mode 0700) and DIR/{ca.pem,ca-key.pem,server.pem,server-key.pem} unless they all
 * exist already. */
int emu_certs_ensure(const char *dir, gl_err *err);

#endif
