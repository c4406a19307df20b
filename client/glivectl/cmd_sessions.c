/* glivectl sessions: gliveD's sessions as a table (or the reply as it is). */
#include <jansson.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "client/glivectl/glivectl.h"
#include "client/lib/glive.h"
#include "common/xalloc.h"

const char cmd_sessions_usage[] =
    "Usage: glivectl sessions [--json]\n"
    "\n"
    "Lists gliveD's sessions: name, state, model, modality, turns, subscribers, tokens used and\n"
    "last activity (--json: the reply as it is). \"-\" where gliveD does not say: it reports\n"
    "tokens as \"tokens\" and the time since the last activity as \"last_activity_s\" when it\n"
    "knows them; a session answering or with prompts waiting is active \"now\".\n";

/* "now", "12s ago", "5m ago", "3h ago", "2d ago" or "-": the last activity of a list entry. The
 * daemon's last_activity_s if it gives one; else a session with a turn, a waiting prompt or a
 * pending call is active now; else it is not known. */
static char *last_activity(const json_t *item)
{
    json_t *v = json_object_get(item, "last_activity_s");
    char *s = NULL;
    if (json_is_number(v)) {
        double t = json_number_value(v);
        long long n = (long long)(t + 0.5);
        int r = t < 1 ? asprintf(&s, "now")
                : n < 120 ? asprintf(&s, "%llds ago", n)
                : n < 7200 ? asprintf(&s, "%lldm ago", (n + 30) / 60)
                : n < 172800 ? asprintf(&s, "%lldh ago", (n + 1800) / 3600)
                : asprintf(&s, "%lldd ago", (n + 43200) / 86400);
        return r < 0 ? gl_xstrdup("?") : s;
    }
    if (json_is_true(json_object_get(item, "turn_running")) ||
        json_integer_value(json_object_get(item, "queued")) > 0 ||
        json_integer_value(json_object_get(item, "pending_tool_calls")) > 0)
        return gl_xstrdup("now");
    return gl_xstrdup("-");
}

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
        /* New columns go last: scripts reading the older ones by position keep working. */
        static const char *const cols[] = {"session", "state", "model", "modality", "turns",
                                           "subscribers", "tokens", NULL};
        static const char *const heads[] = {"SESSION", "STATE", "MODEL", "MODALITY", "TURNS",
                                            "SUBSCRIBERS", "TOKENS", "LAST-ACTIVITY"};
        enum { NC = 8 };
        json_t *list = json_object_get(reply, "sessions");
        size_t n = json_array_size(list);
        char **cells = gl_xcalloc(n * NC + 1, sizeof *cells);
        size_t w[NC];
        for (int k = 0; k < NC; k++)
            w[k] = strlen(heads[k]);
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < NC; k++) {
                json_t *item = json_array_get(list, i);
                json_t *v = cols[k] ? json_object_get(item, cols[k]) : NULL;
                if (!v && k == 0)
                    v = json_object_get(item, "name");
                char *s = cols[k] ? human(v) : last_activity(item);
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
