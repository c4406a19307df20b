#include "proto/line.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/xalloc.h"
#include "proto/errors.h"

/* ---- Line reader ------------------------------------------------------------------------- */

void gl_line_reader_init(gl_line_reader *r, size_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max ? max : GL_LINE_MAX_DEFAULT;
}

void gl_line_reader_free(gl_line_reader *r)
{
    free(r->line);
    size_t max = r->max;
    gl_line_reader_init(r, max);
}

void gl_line_feed(gl_line_reader *r, const void *data, size_t len)
{
    r->in = data;
    r->in_len = len;
}

/* Appends n bytes to the current line; the caller guarantees len + n <= max + 1, so with the NUL
 * the buffer never exceeds max + 2 bytes. */
static void line_append(gl_line_reader *r, const char *p, size_t n)
{
    size_t need = r->len + n + 1;
    if (need > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < need)
            cap *= 2;
        if (cap > r->max + 2)
            cap = r->max + 2;
        r->line = gl_xrealloc(r->line, cap);
        r->cap = cap;
    }
    memcpy(r->line + r->len, p, n);
    r->len += n;
}

static void consume(gl_line_reader *r, size_t n)
{
    r->in += n;
    r->in_len -= n;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static int too_long(gl_line_reader *r, gl_err *err)
{
    r->len = 0;
    return gl_fail(err, GL_E_LINE_TOO_LONG, "line longer than %zu bytes; dropped up to the next newline",
                   r->max);
}

int gl_line_next(gl_line_reader *r, const char **line, size_t *len, gl_err *err)
{
    if (r->returned) {
        r->returned = false;
        r->len = 0;
    }
    while (r->in_len) {
        const char *nl = memchr(r->in, '\n', r->in_len);
        if (r->discarding) {
            if (!nl) {
                consume(r, r->in_len);
                break;
            }
            consume(r, (size_t)(nl - r->in) + 1);
            r->discarding = false;
            continue;
        }
        size_t n = nl ? (size_t)(nl - r->in) : r->in_len;
        /* max + 1 bytes may still be a max-byte line followed by '\r'. */
        if (r->len + n > r->max + 1) {
            if (nl)
                consume(r, n + 1);
            else {
                consume(r, n);
                r->discarding = true;
            }
            return too_long(r, err);
        }
        line_append(r, r->in, n);
        consume(r, nl ? n + 1 : n);
        if (!nl)
            break;
        size_t l = r->len;
        if (l && r->line[l - 1] == '\r')
            l--;
        if (l > r->max)
            return too_long(r, err);
        if (blank(r->line, l)) {
            r->len = 0;
            continue;
        }
        r->line[l] = '\0';
        r->returned = true;
        *line = r->line;
        *len = l;
        return 1;
    }
    return 0;
}

int gl_line_eof(gl_line_reader *r, const char **line, size_t *len)
{
    if (r->returned) {
        r->returned = false;
        r->len = 0;
    }
    r->in_len = 0;
    if (r->discarding || !r->len) {
        r->discarding = false;
        r->len = 0;
        return 0;
    }
    size_t l = r->len;
    if (r->line[l - 1] == '\r')
        l--;
    if (l > r->max || blank(r->line, l)) {
        r->len = 0;
        return 0;
    }
    r->line[l] = '\0';
    r->returned = true;
    *line = r->line;
    *len = l;
    return 1;
}

/* ---- Requests ---------------------------------------------------------------------------- */

void gl_req_free(gl_req *req)
{
    if (!req)
        return;
    json_decref(req->root);
    memset(req, 0, sizeof *req);
}

int gl_req_parse(const char *line, size_t len, gl_req *out, gl_err *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (je.column > 0)
            return gl_fail(err, GL_E_BAD_JSON, "invalid JSON at column %d: %s", je.column, je.text);
        return gl_fail(err, GL_E_BAD_JSON, "invalid JSON: %s", je.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return gl_fail(err, GL_E_BAD_REQUEST, "request must be a JSON object");
    }
    out->root = root;
    json_t *id = json_object_get(root, "id");
    if (id && (json_is_object(id) || json_is_array(id)))
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"id\" must be a string, number, boolean or null");
    out->id = id;
    json_t *op = json_object_get(root, "op");
    if (!op || json_is_null(op))
        return gl_fail(err, GL_E_BAD_REQUEST, "missing field \"op\"");
    if (!json_is_string(op))
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"op\" must be a string");
    if (!json_string_length(op))
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"op\" must not be empty");
    out->op = json_string_value(op);
    return 0;
}

/* The field, or NULL if absent/null; -1 (missing) when required and absent. */
static int field(const gl_req *req, const char *key, bool required, json_t **v, gl_err *err)
{
    *v = req && req->root ? json_object_get(req->root, key) : NULL;
    if (*v && json_is_null(*v))
        *v = NULL;
    if (!*v && required)
        return gl_fail(err, GL_E_BAD_REQUEST, "missing field \"%s\"", key);
    return 0;
}

static int wrong_type(const char *key, const char *what, gl_err *err)
{
    return gl_fail(err, GL_E_BAD_REQUEST, "field \"%s\" must be %s", key, what);
}

int gl_req_str(const gl_req *req, const char *key, bool required, const char **out, gl_err *err)
{
    json_t *v;
    if (field(req, key, required, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    if (!json_is_string(v))
        return wrong_type(key, "a string", err);
    *out = json_string_value(v);
    return 0;
}

int gl_req_int(const gl_req *req, const char *key, bool required, long long *out, gl_err *err)
{
    json_t *v;
    if (field(req, key, required, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return wrong_type(key, "an integer", err);
    *out = (long long)json_integer_value(v);
    return 0;
}

int gl_req_bool(const gl_req *req, const char *key, bool required, bool *out, gl_err *err)
{
    json_t *v;
    if (field(req, key, required, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return wrong_type(key, "a boolean", err);
    *out = json_is_true(v);
    return 0;
}

int gl_req_obj(const gl_req *req, const char *key, bool required, json_t **out, gl_err *err)
{
    json_t *v;
    if (field(req, key, required, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return wrong_type(key, "an object", err);
    *out = v;
    return 0;
}

int gl_req_arr(const gl_req *req, const char *key, bool required, json_t **out, gl_err *err)
{
    json_t *v;
    if (field(req, key, required, &v, err) < 0)
        return -1;
    if (!v)
        return 0;
    if (!json_is_array(v))
        return wrong_type(key, "an array", err);
    *out = v;
    return 0;
}

bool gl_session_name_ok(const char *name, gl_err *err)
{
    static const char allowed[] = "(allowed: A-Z a-z 0-9 . _ -)";
    if (!name || !*name) {
        gl_fail(err, GL_E_BAD_REQUEST, "session name must not be empty");
        return false;
    }
    size_t n = strlen(name);
    if (n > GL_SESSION_NAME_MAX) {
        gl_fail(err, GL_E_BAD_REQUEST, "session name is longer than %d characters", GL_SESSION_NAME_MAX);
        return false;
    }
    if (name[0] == '.') {
        gl_fail(err, GL_E_BAD_REQUEST, "session name must not start with '.'");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == '-')
            continue;
        if (c >= 0x20 && c < 0x7f)
            gl_fail(err, GL_E_BAD_REQUEST, "invalid character '%c' at position %zu in session name %s",
                    c, i, allowed);
        else
            gl_fail(err, GL_E_BAD_REQUEST, "invalid byte 0x%02x at position %zu in session name %s", c,
                    i, allowed);
        return false;
    }
    return true;
}

int gl_req_session(const gl_req *req, const char **out, gl_err *err)
{
    const char *s = NULL;
    if (gl_req_str(req, "session", true, &s, err) < 0)
        return -1;
    if (!gl_session_name_ok(s, err))
        return -1;
    *out = s;
    return 0;
}

/* ---- Output lines ------------------------------------------------------------------------ */

json_t *gl_json_textn(const char *s, size_t len)
{
    if (!s)
        return NULL;
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    char *copy = gl_xmalloc(len);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = gl_utf8_len(u + i, len - i);
        if (!k) {
            copy[i++] = '?';
            continue;
        }
        memcpy(copy + i, s + i, k);
        i += k;
    }
    j = json_stringn(copy, len); /* valid UTF-8 now: cannot fail */
    free(copy);
    return j;
}

json_t *gl_json_text(const char *s)
{
    return s ? gl_json_textn(s, strlen(s)) : NULL;
}

static bool reserved(const char *key, const char *const *skip)
{
    for (; *skip; skip++)
        if (!strcmp(key, *skip))
            return true;
    return false;
}

/* Appends fields' keys (minus reserved ones) to obj, dumps obj + "\n", frees both. Cannot fail:
 * out of memory aborts, and the keys and strings were checked when they were made. */
static char *finish(json_t *obj, json_t *fields, const char *const *skip)
{
    if (fields && json_is_object(fields)) {
        const char *k;
        json_t *v;
        json_object_foreach(fields, k, v)
            if (!reserved(k, skip))
                json_object_set(obj, k, v);
    }
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    json_decref(fields);
    size_t n = strlen(s);
    s = gl_xrealloc(s, n + 2); /* jansson's allocator is malloc or gl_xmalloc: free()-able */
    s[n] = '\n';
    s[n + 1] = '\0';
    return s;
}

static json_t *id_value(json_t *id)
{
    return id ? json_incref(id) : json_null();
}

char *gl_reply_ok(json_t *id, json_t *fields)
{
    static const char *const skip[] = {"id", "ok", "error", NULL};
    json_t *o = json_object();
    json_object_set_new(o, "id", id_value(id));
    json_object_set_new(o, "ok", json_true());
    return finish(o, fields, skip);
}

char *gl_reply_err(json_t *id, const char *code, const char *message)
{
    static const char *const skip[] = {NULL};
    json_t *o = json_object();
    json_t *e = json_object();
    json_object_set_new(o, "id", id_value(id));
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(e, "code", gl_json_text(code ? code : GL_E_INTERNAL));
    json_object_set_new(e, "message", gl_json_text(message ? message : ""));
    json_object_set_new(o, "error", e);
    return finish(o, NULL, skip);
}

char *gl_reply_errf(json_t *id, const gl_err *err)
{
    return gl_reply_err(id, err ? err->code : GL_E_INTERNAL, err ? err->msg : "");
}

char *gl_event(const char *name, const char *session, json_t *fields)
{
    static const char *const skip[] = {"event", "session", NULL};
    json_t *o = json_object();
    json_object_set_new(o, "event", gl_json_text(name ? name : ""));
    if (session)
        json_object_set_new(o, "session", gl_json_text(session));
    return finish(o, fields, skip);
}
