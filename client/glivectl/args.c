/* The arguments of the simple commands (watch, sessions, status): "[--json] [--help]" and their
 * positional arguments. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "client/glivectl/glivectl.h"

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
            errline("glivectl %s: unknown option \"%s\"", cmd, a);
            fputs(usage, stderr);
            return -1;
        } else if (got < npos) {
            pos[got++] = a;
        } else {
            errline("glivectl %s: unexpected argument \"%s\"", cmd, a);
            fputs(usage, stderr);
            return -1;
        }
    }
    if (got < npos) {
        errline("glivectl %s: missing SESSION", cmd);
        fputs(usage, stderr);
        return -1;
    }
    return 0;
}
