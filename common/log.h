/* Logging to stderr with levels. Callers never pass secrets: URLs go through
 * gl_redact_url() first (it removes the API key). Each line is one line whatever the values in
 * it hold (control characters are escaped), prefixed for the journal when stderr is it. */
#ifndef GL_LOG_H
#define GL_LOG_H

#include <stddef.h>

enum gl_log_level { GL_LOG_ERROR, GL_LOG_WARN, GL_LOG_INFO, GL_LOG_DEBUG };

void gl_log_set_level(enum gl_log_level lvl);
void gl_log_set_name(const char *progname);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int gl_log_parse_level(const char *s, enum gl_log_level *out);
void gl_log(enum gl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The line a program writes as it gives up at start ("NAME: MESSAGE", escaped as gl_log's):
 * where stderr is the journal, with the error priority <3> (without it the journal files it at
 * the stream's default, info, and `journalctl -p err` would not show why the service failed). */
void gl_log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_error(...) gl_log(GL_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) gl_log(GL_LOG_WARN, __VA_ARGS__)
#define log_info(...) gl_log(GL_LOG_INFO, __VA_ARGS__)
#define log_debug(...) gl_log(GL_LOG_DEBUG, __VA_ARGS__)

/* Copies in to out (at most outlen bytes with the NUL) with every control character written as
 * \xNN, as gl_log does to each line. Returns the length written. */
size_t gl_log_escape(const char *in, char *out, size_t outlen);

/* Copies url into out with the values of key=, access_token= query parameters replaced by "***". */
void gl_redact_url(const char *url, char *out, size_t outlen);

#endif
