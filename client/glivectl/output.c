/* glivectl's output: stdout and stderr written as the text streams in, one-line diagnostics, and
 * JSON shown to humans. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/glivectl/glivectl.h"
#include "common/xalloc.h"

ostream OUT, ERR;
const char *transcript_run;

static bool deferred;      /* o_defer: flushed before a wait, not after each write */
static ostream *last;      /* the stream written last, maybe holding unflushed bytes */

/* Before writing to o: what was written to the other stream goes out first, so that a terminal
 * shows stdout and stderr in the order they were written even while output is deferred. */
static void take_turn(ostream *o)
{
    if (last && last != o)
        fflush(last->f);
    last = o;
}

void o_defer(bool on)
{
    deferred = on;
    if (!on)
        o_flush();
}

void o_flush(void)
{
    if (last)
        fflush(last->f);
    last = NULL;
}

void o_sync(ostream *o)
{
    take_turn(o);
    if (!deferred)
        fflush(o->f);
}

static void o_write(ostream *o, const char *s, size_t n)
{
    if (!n)
        return;
    take_turn(o);
    fwrite(s, 1, n, o->f);
    o->midline = s[n - 1] != '\n';
    if (!deferred)
        fflush(o->f);
}

void o_puts(ostream *o, const char *s) { o_write(o, s, strlen(s)); }
void o_putn(ostream *o, const char *s, size_t n) { o_write(o, s, n); }

static void o_vprintf(ostream *o, const char *fmt, va_list ap)
{
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    if (n > 0)
        o_write(o, s, (size_t)n);
    free(s);
}

void o_printf(ostream *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    o_vprintf(o, fmt, ap);
    va_end(ap);
}

void o_newline(ostream *o)
{
    if (o->midline)
        o_write(o, "\n", 1);
}

void err_linestart(void)
{
    transcript_run = NULL;
    if (OUT.midline && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO))
        o_write(&OUT, "\n", 1);
    o_newline(&ERR);
}

void errline(const char *fmt, ...)
{
    err_linestart();
    va_list ap;
    va_start(ap, fmt);
    o_vprintf(&ERR, fmt, ap);
    va_end(ap);
    o_write(&ERR, "\n", 1);
}

int report(const gl_err *e)
{
    errline("glivectl: %s: %s", e->code, e->msg);
    return EXIT_ERR;
}

char *dump(const json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
    return s ? s : gl_xstrdup("?");
}

void print_json_line(const json_t *v)
{
    char *s = dump(v);
    o_newline(&OUT);
    o_puts(&OUT, s);
    o_write(&OUT, "\n", 1);
    free(s);
}

/* A real for people: three significant figures at most below 100, whole numbers above
 * (12.718999999999999 -> "12.7", 0.123456 -> "0.12", 1234.6 -> "1235"), no trailing zeros. */
static void fmt_real(char *buf, size_t size, double v)
{
    double a = fabs(v);
    snprintf(buf, size, "%.*f", a >= 100 ? 0 : a >= 10 ? 1 : 2, v);
    if (strchr(buf, '.')) {
        size_t n = strlen(buf);
        while (n && buf[n - 1] == '0')
            buf[--n] = '\0';
        if (n && buf[n - 1] == '.')
            buf[--n] = '\0';
    }
    if (strcmp(buf, "-0") == 0)
        snprintf(buf, size, "0");
}

/* A copy of v with every real rounded as fmt_real does. */
static json_t *rounded(const json_t *v)
{
    if (json_is_real(v)) {
        char buf[64];
        fmt_real(buf, sizeof buf, json_real_value(v));
        return json_real(strtod(buf, NULL));
    }
    json_t *out;
    if (json_is_object(v)) {
        out = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
            json_object_set_new(out, k, rounded(x));
        return out;
    }
    if (json_is_array(v)) {
        out = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
            json_array_append_new(out, rounded(x));
        return out;
    }
    return json_deep_copy(v);
}

char *dump_human(const json_t *v)
{
    json_t *r = v ? rounded(v) : NULL;
    /* after rounding, 12 digits print the short form (12.7), never 12.699999999999999 */
    char *s = r ? json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
                                    JSON_REAL_PRECISION(12))
                : NULL;
    json_decref(r);
    return s ? s : gl_xstrdup("?");
}

char *human(const json_t *v)
{
    char *s = NULL;
    if (json_is_real(v)) {
        char buf[64];
        fmt_real(buf, sizeof buf, json_real_value(v));
        return gl_xstrdup(buf);
    }
    if (json_is_string(v))
        return gl_xstrdup(json_string_value(v));
    if (!v || json_is_null(v))
        return gl_xstrdup("-");
    if (json_is_integer(v)) {
        if (asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0)
            return gl_xstrdup("?");
        return s;
    }
    return dump_human(v);
}

const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

void print_code(ostream *o, const json_t *ev)
{
    const char *code = str_or(ev, "code", "");
    size_t n = strlen(code);
    o_newline(o);
    o_printf(o, "[code: %s]\n%s%s[/code]\n", str_or(ev, "language", "?"), code,
             n && code[n - 1] == '\n' ? "" : "\n");
}

void print_code_result(ostream *o, const json_t *ev)
{
    const char *out = str_or(ev, "output", "");
    size_t n = strlen(out);
    o_newline(o);
    o_printf(o, "[result: %s]\n%s%s", str_or(ev, "outcome", "?"), out,
             n && out[n - 1] != '\n' ? "\n" : "");
}
