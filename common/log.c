#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum gl_log_level g_level = GL_LOG_INFO;
static const char *g_name = "glive";

void gl_log_set_level(enum gl_log_level lvl) { g_level = lvl; }
void gl_log_set_name(const char *progname) { g_name = progname; }

int gl_log_parse_level(const char *s, enum gl_log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum gl_log_level)i;
            return 0;
        }
    return -1;
}

void gl_log(enum gl_log_level lvl, const char *fmt, ...)
{
    static const char *tags[] = {"error", "warn", "info", "debug"};
    if (lvl > g_level)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, g_name, tags[lvl], line);
}

void gl_redact_url(const char *url, char *out, size_t outlen)
{
    size_t o = 0;
    const char *p = url;
    if (outlen == 0)
        return;
    while (*p && o + 1 < outlen) {
        int at_param = (p == url) ? 0 : (p[-1] == '?' || p[-1] == '&');
        if (at_param && (strncmp(p, "key=", 4) == 0 || strncmp(p, "access_token=", 13) == 0)) {
            const char *eq = strchr(p, '=');
            while (p <= eq && o + 1 < outlen)
                out[o++] = *p++;
            for (const char *r = "***"; *r && o + 1 < outlen; r++)
                out[o++] = *r;
            while (*p && *p != '&')
                p++;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
}
