/* glivectl sessions: gliveD's sessions as a table (or the reply as it is). */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "client/glivectl/glivectl.h"
#include "client/lib/glive.h"
#include "common/xalloc.h"

const char cmd_sessions_usage[] =
    "Usage: glivectl sessions [--json]\n"
    "\n"
    "Lists gliveD's sessions: name, state, model, modality, turns, subscribers\n"
    "(--json: the reply as it is).\n";

int cmd_sessions(const globals *g, int argc, char **argv)
{
    bool json = false;
    int r = simple_args(argc, argv, cmd_sessions_usage, &json, NULL, 0, "sessions");
    if (r)
        return r > 0 ? EXIT_OK : EXIT_USAGE;
    glive_client *c = connect_daemon(g);
    if (!c)
        return EXIT_CONNECT;
    int rc = EXIT_OK;
    json_t *reply = request_ok(c, g, json_pack("{s:s}", "op", "list"), &rc);
    if (reply && json) {
        print_json_line(reply);
    } else if (reply) {
        static const char *const cols[] = {"session", "state", "model", "modality", "turns",
                                           "subscribers"};
        static const char *const heads[] = {"SESSION", "STATE", "MODEL", "MODALITY", "TURNS",
                                            "SUBSCRIBERS"};
        enum { NC = 6 };
        json_t *list = json_object_get(reply, "sessions");
        size_t n = json_array_size(list);
        char **cells = gl_xcalloc(n * NC + 1, sizeof *cells);
        size_t w[NC];
        for (int k = 0; k < NC; k++)
            w[k] = strlen(heads[k]);
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < NC; k++) {
                json_t *item = json_array_get(list, i);
                json_t *v = json_object_get(item, cols[k]);
                if (!v && k == 0)
                    v = json_object_get(item, "name");
                char *s = human(v);
                cells[i * NC + k] = s;
                if (strlen(s) > w[k])
                    w[k] = strlen(s);
            }
        for (int k = 0; k < NC; k++)
            o_printf(&OUT, "%-*s%s", k < NC - 1 ? (int)w[k] : 0, heads[k], k < NC - 1 ? "  " : "\n");
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < NC; k++)
                o_printf(&OUT, "%-*s%s", k < NC - 1 ? (int)w[k] : 0, cells[i * NC + k],
                         k < NC - 1 ? "  " : "\n");
        for (size_t i = 0; i < n * NC; i++)
            free(cells[i]);
        free(cells);
    }
    json_decref(reply);
    glive_close(c);
    return rc;
}
