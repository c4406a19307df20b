/* Parses websocket URLs: ws://host[:port][/path][?query] and wss://... ([::1] for IPv6). */
#ifndef GL_URL_H
#define GL_URL_H

#include <stdbool.h>

#include "common/err.h"

typedef struct gl_url {
    bool tls;          /* wss:// (or https://) */
    char host[256];    /* without brackets */
    int port;
    char target[4096]; /* path plus "?query", at least "/" */
} gl_url;

int gl_url_parse(const char *url, gl_url *out, gl_err *err);
/* True if host is an IPv4 or IPv6 literal (certificate checks then match IP SANs). */
bool gl_host_is_ip(const char *host);

#endif
