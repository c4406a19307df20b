#include "transport/url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool gl_host_is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int gl_url_parse(const char *url, gl_url *out, gl_err *err)
{
    memset(out, 0, sizeof *out);
    const char *p;
    if (strncmp(url, "wss://", 6) == 0 || strncmp(url, "https://", 8) == 0) {
        out->tls = true;
        out->port = 443;
        p = strstr(url, "://") + 3;
    } else if (strncmp(url, "ws://", 5) == 0 || strncmp(url, "http://", 7) == 0) {
        out->port = 80;
        p = strstr(url, "://") + 3;
    } else {
        return gl_fail(err, "bad_url", "URL must start with ws:// or wss://");
    }
    const char *host_end;
    const char *h = p;
    if (*p == '[') {
        h = p + 1;
        host_end = strchr(h, ']');
        if (!host_end)
            return gl_fail(err, "bad_url", "unterminated [IPv6] host in URL");
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/?");
        p = host_end;
    }
    size_t hlen = (size_t)(host_end - h);
    if (hlen == 0 || hlen >= sizeof out->host)
        return gl_fail(err, "bad_url", "URL has no usable host");
    memcpy(out->host, h, hlen);
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/' && *end != '?'))
            return gl_fail(err, "bad_url", "URL port must be 1-65535");
        out->port = (int)port;
        p = end;
    }
    if (*p && *p != '/' && *p != '?')
        return gl_fail(err, "bad_url", "unexpected character after host in URL");
    int n = snprintf(out->target, sizeof out->target, "%s%s", *p == '/' ? "" : "/", p);
    if (n < 0 || (size_t)n >= sizeof out->target)
        return gl_fail(err, "bad_url", "URL path too long");
    return 0;
}
