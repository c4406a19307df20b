/* The emulator's connection handling: Live API sessions over websockets, run by the scripted
 * model (emulator/model.h), checked by the strict parser (emulator/strict.h) and the model rules
 * (emulator/rules.h). Stats and the log of every client message are served over plain HTTP GET
 * on the same port: /emulator/stats and /emulator/log. */
#ifndef EMU_SERVER_H
#define EMU_SERVER_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <uv.h>

#include "common/err.h"
#include "emulator/model.h"

typedef struct emu_config {
    const char *host;
    int port;
    SSL_CTX *tls;              /* NULL: plain ws */
    emu_script *script;
    double time_scale;         /* multiplies scripted delays (not the lifetime) */
    unsigned lifetime_ms;      /* connection lifetime; 0 = 600000 like the real service */
    unsigned goaway_before_ms; /* goAway this long before the cut; 0 = min(60 s, lifetime/6) */
    size_t max_message;        /* inbound bound; 0 = 16 MiB */
    const char *api_key;       /* NULL: any non-empty key is valid */
    unsigned max_log;          /* received-message log entries kept; 0 = 100000 */
    bool session_id;           /* setupComplete carries a sessionId (Vertex does; the
                                  Developer API does not, hence off by default) */
} emu_config;

typedef struct emu_server emu_server;

/* NULL (err set) only when the listener cannot start. */
emu_server *emu_server_start(uv_loop_t *loop, const emu_config *cfg, gl_err *err);
int emu_server_port(const emu_server *s);
/* Closes every connection (1001) and the listener; frees s once the loop has let go. */
void emu_server_stop(emu_server *s);

#endif
