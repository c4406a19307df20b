/* glivectl status: gliveD's status as "key: value" lines (or the reply as it is). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/glivectl/glivectl.h"
#include "client/lib/glive.h"

const char cmd_status_usage[] =
    "Usage: glivectl status [--json]\n"
    "\n"
    "Shows gliveD's status (uptime, sessions, clients, traffic) as \"key: value\" lines\n"
    "(--json: the reply as it is).\n";

/* "key: value" lines; objects are flattened with dotted keys; arrays of objects get one line per
 * element. */
static void print_kv(const char *prefix, const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (!prefix && (strcmp(k, "id") == 0 || strcmp(k, "ok") == 0))
            continue;
        char *key = NULL;
        if (asprintf(&key, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", k) < 0)
            continue;
        if (json_is_object(v) && json_object_size(v)) {
            print_kv(key, v);
        } else if (json_is_array(v) && json_array_size(v) && json_is_object(json_array_get(v, 0))) {
            o_printf(&OUT, "%s:\n", key);
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item) {
                char *s = dump_human(item);
                o_printf(&OUT, "  - %s\n", s);
                free(s);
            }
        } else {
            char *s = human(v);
            if (strcmp(k, "uptime_s") == 0 && json_is_integer(v)) {
                long long t = json_integer_value(v);
                o_printf(&OUT, "%s: %s (%lldd %02lld:%02lld:%02lld)\n", key, s, t / 86400,
                         t / 3600 % 24, t / 60 % 60, t % 60);
            } else {
                o_printf(&OUT, "%s: %s\n", key, s);
            }
            free(s);
        }
        free(key);
    }
}

int cmd_status(const globals *g, int argc, char **argv)
{
    bool json = false;
    int r = simple_args(argc, argv, cmd_status_usage, &json, NULL, 0, "status");
    if (r)
        return r > 0 ? EXIT_OK : EXIT_USAGE;
    glive_client *c = connect_daemon(g);
    if (!c)
        return EXIT_CONNECT;
    int rc = EXIT_OK;
    json_t *reply = request_ok(c, g, json_pack("{s:s}", "op", "status"), &rc);
    if (reply && json)
        print_json_line(reply);
    else if (reply)
        print_kv(NULL, reply);
    json_decref(reply);
    glive_close(c);
    return rc;
}
