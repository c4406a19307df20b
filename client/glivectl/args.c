/* The arguments of the simple commands (watch, sessions, status): "[--json] [--help]" and their
 * positional arguments; usage errors of every command. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/glivectl/glivectl.h"
#include "client/glivectl/suggest.h"

int usage_fail(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One line and where to look: the whole help would bury the line that matters. */
    errline("glivectl%s%s: %s", cmd ? " " : "", cmd ? cmd : "", msg);
    errline("Try 'glivectl%s%s --help'.", cmd ? " " : "", cmd ? cmd : "");
    return EXIT_USAGE;
}

int simple_args(int argc, char **argv, const char *usage, bool *json, const char **pos, int npos,
                const char *cmd)
{
    int got = 0;
    bool opts_done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = true;
        } else if (!opts_done && strcmp(a, "--json") == 0) {
            *json = true;
        } else if (!opts_done && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(usage, stdout);
            return 1;
        } else if (!opts_done && a[0] == '-' && a[1]) {
            static const char *const names[] = {"--json", "--help"};
            const char *hint = gl_suggest(a, strlen(a), names, 2);
            if (hint)
                usage_fail(cmd, "unknown option \"%.60s\" (did you mean \"%s\"?)", a, hint);
            else
                usage_fail(cmd, "unknown option \"%.60s\"", a);
            return -1;
        } else if (got < npos) {
            pos[got++] = a;
        } else {
            usage_fail(cmd, "unexpected argument \"%.60s\"", a);
            return -1;
        }
    }
    if (got < npos) {
        usage_fail(cmd, "missing SESSION");
        return -1;
    }
    return 0;
}
