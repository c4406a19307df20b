#include "transport/http.h"

#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

struct parse_ctx {
    gl_http_head *out;
    char url[4096];
    size_t urllen;
    int overflow;
    int in_value; /* last callback was a value: the next field starts a new header */
};

/* Appends a piece of a name or value to the arena (pieces of one token are contiguous there). */
static char *arena_add(struct parse_ctx *c, char *cur, const char *at, size_t len)
{
    gl_http_head *h = c->out;
    size_t have = cur ? strlen(cur) : 0;
    if (cur && cur + have + 1 != h->arena + h->used) { /* not the last token: cannot extend */
        c->overflow = 1;
        return cur;
    }
    if (!cur)
        have = 0;
    size_t need = len + (cur ? 0 : 1);
    if (h->used + need > sizeof h->arena) {
        c->overflow = 1;
        return cur;
    }
    char *start = cur ? cur : h->arena + h->used;
    memcpy(start + have, at, len);
    start[have + len] = '\0';
    h->used += need;
    return start;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct parse_ctx *c = p->data;
    if (c->urllen + len >= sizeof c->url)
        return c->overflow = 1;
    memcpy(c->url + c->urllen, at, len);
    c->urllen += len;
    c->url[c->urllen] = '\0';
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
    struct parse_ctx *c = p->data;
    gl_http_head *h = c->out;
    if (c->in_value || h->nheaders == 0 || h->h[h->nheaders - 1].value) {
        if (h->nheaders == GL_HTTP_MAX_HEADERS)
            return c->overflow = 1;
        h->h[h->nheaders].name = NULL;
        h->h[h->nheaders].value = NULL;
        h->nheaders++;
        c->in_value = 0;
    }
    h->h[h->nheaders - 1].name = arena_add(c, h->h[h->nheaders - 1].name, at, len);
    return c->overflow;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
    struct parse_ctx *c = p->data;
    gl_http_head *h = c->out;
    if (h->nheaders == 0)
        return 1;
    c->in_value = 1;
    h->h[h->nheaders - 1].value = arena_add(c, h->h[h->nheaders - 1].value, at, len);
    return c->overflow;
}

static int on_headers_complete(http_parser *p)
{
    (void)p;
    return 1; /* no body: stop here (for requests the upgrade flag also stops the parser) */
}

long gl_http_parse_head(const char *data, size_t len, int is_request, gl_http_head *out,
                        gl_err *err)
{
    const char *end = memmem(data, len, "\r\n\r\n", 4);
    if (!end) {
        if (len > GL_HTTP_MAX_HEAD)
            return gl_fail(err, "http", "HTTP header block larger than %d bytes", GL_HTTP_MAX_HEAD);
        return 0;
    }
    size_t headlen = (size_t)(end - data) + 4;
    if (headlen > GL_HTTP_MAX_HEAD)
        return gl_fail(err, "http", "HTTP header block larger than %d bytes", GL_HTTP_MAX_HEAD);
    memset(out, 0, offsetof(gl_http_head, arena));
    out->used = 0;
    struct parse_ctx c = {.out = out};
    http_parser p;
    http_parser_init(&p, is_request ? HTTP_REQUEST : HTTP_RESPONSE);
    p.data = &c;
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_url = on_url;
    s.on_header_field = on_field;
    s.on_header_value = on_value;
    s.on_headers_complete = on_headers_complete;
    http_parser_execute(&p, &s, data, headlen);
    if (c.overflow)
        return gl_fail(err, "http", "HTTP header block too large or has too many headers");
    if (HTTP_PARSER_ERRNO(&p) != HPE_OK && HTTP_PARSER_ERRNO(&p) != HPE_CB_headers_complete)
        return gl_fail(err, "http", "malformed HTTP head: %s",
                       http_errno_description(HTTP_PARSER_ERRNO(&p)));
    for (size_t i = 0; i < out->nheaders; i++)
        if (!out->h[i].name || !out->h[i].value)
            return gl_fail(err, "http", "malformed HTTP header line");
    if (is_request) {
        snprintf(out->method, sizeof out->method, "%s", http_method_str(p.method));
        char *q = strchr(c.url, '?');
        if (q) {
            *q = '\0';
            snprintf(out->query, sizeof out->query, "%s", q + 1);
        }
        snprintf(out->path, sizeof out->path, "%s", c.url);
    } else {
        out->status = (int)p.status_code;
    }
    return (long)headlen;
}

const char *gl_http_header(const gl_http_head *h, const char *name)
{
    for (size_t i = 0; i < h->nheaders; i++)
        if (strcasecmp(h->h[i].name, name) == 0)
            return h->h[i].value;
    return NULL;
}

int gl_http_header_has_token(const gl_http_head *h, const char *name, const char *token)
{
    const char *v = gl_http_header(h, name);
    size_t tl = strlen(token);
    while (v && *v) {
        v += strspn(v, " \t,");
        size_t n = strcspn(v, ",");
        size_t m = n;
        while (m && (v[m - 1] == ' ' || v[m - 1] == '\t'))
            m--;
        if (m == tl && strncasecmp(v, token, tl) == 0)
            return 1;
        v += n;
    }
    return 0;
}

int gl_ws_key_new(char key[25], gl_err *err)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return gl_fail(err, "rand", "no randomness for Sec-WebSocket-Key");
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    return 0;
}

void gl_ws_accept_for(const char *key, char out[29])
{
    char buf[128];
    int n = snprintf(buf, sizeof buf, "%.60s%s", key, WS_GUID);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((unsigned char *)buf, (size_t)n, md);
    EVP_EncodeBlock((unsigned char *)out, md, sizeof md);
}

int gl_http_write_upgrade(gl_buf *out, const gl_url *u, const char *key,
                          const char *const *headers, gl_err *err)
{
    char head[GL_HTTP_MAX_HEAD];
    int defport = u->tls ? 443 : 80;
    const char *lb = strchr(u->host, ':') ? "[" : "", *rb = *lb ? "]" : "";
    char portpart[16] = "";
    if (u->port != defport)
        snprintf(portpart, sizeof portpart, ":%d", u->port);
    int n = snprintf(head, sizeof head,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
                     u->target, lb, u->host, rb, portpart, key);
    for (size_t i = 0; headers && headers[i] && n > 0 && (size_t)n < sizeof head; i++)
        n += snprintf(head + n, sizeof head - (size_t)n, "%s\r\n", headers[i]);
    if (n < 0 || (size_t)n + 2 >= sizeof head)
        return gl_fail(err, "http", "upgrade request too large");
    memcpy(head + n, "\r\n", 2);
    if (gl_buf_append(out, head, (size_t)n + 2) != 0)
        return gl_fail(err, "overflow", "output buffer full");
    return 0;
}

int gl_http_check_upgrade_response(const gl_http_head *h, const char *key, gl_err *err)
{
    if (h->status != 101)
        return gl_fail(err, "http_status", "server answered HTTP %d instead of switching to websocket",
                       h->status);
    if (!gl_http_header_has_token(h, "Upgrade", "websocket") ||
        !gl_http_header_has_token(h, "Connection", "upgrade"))
        return gl_fail(err, "http", "server's 101 response lacks Upgrade/Connection headers");
    char want[29];
    gl_ws_accept_for(key, want);
    const char *got = gl_http_header(h, "Sec-WebSocket-Accept");
    if (!got || strcmp(got, want) != 0)
        return gl_fail(err, "http", "server's Sec-WebSocket-Accept does not match our key");
    return 0;
}
