#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* A peer's text reaches logs inside messages (session names are checked, but call ids, reasons,
 * model output are not): one log line must stay one line, and no byte may drive a terminal. So
 * every control character (C0, DEL, and C1 as UTF-8 C2 80..9F) is written as \xNN. */
size_t gl_log_escape(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 1 < outlen; p++) {
        bool c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
        if (*p < 0x20 || *p == 0x7f || c1) {
            if (o + 5 > outlen - 1)
                break;
            unsigned v = c1 ? p[1] : *p;
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", v);
            p += c1;
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
    return o;
}

/* stderr is the journal (systemd sets JOURNAL_STREAM to its device:inode): it stamps lines
 * itself and reads a "<N>" priority prefix. */
static bool to_journal(void)
{
    static int known = -1;
    if (known < 0) {
        const char *js = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        known = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
                (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
    }
    return known;
}

/* The message, formatted and with its control characters escaped, into safe (2048 bytes). */
static void format_safe(char safe[2048], const char *fmt, va_list ap)
{
    char line[2048];
    vsnprintf(line, sizeof line, fmt, ap);
    gl_log_escape(line, safe, 2048);
}

void gl_log(enum gl_log_level lvl, const char *fmt, ...)
{
    static const char *tags[] = {"error", "warn", "info", "debug"};
    static const int priority[] = {3, 4, 6, 7}; /* syslog's err, warning, info, debug */
    if (lvl > g_level)
        return;
    char safe[2048];
    va_list ap;
    va_start(ap, fmt);
    format_safe(safe, fmt, ap);
    va_end(ap);
    if (to_journal()) {
        fprintf(stderr, "<%d>%s %s: %s\n", priority[lvl], g_name, tags[lvl], safe);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, g_name, tags[lvl], safe);
}

void gl_log_fatal(const char *fmt, ...)
{
    char safe[2048];
    va_list ap;
    va_start(ap, fmt);
    format_safe(safe, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s: %s\n", to_journal() ? "<3>" : "", g_name, safe);
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
