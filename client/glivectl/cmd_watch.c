/* glivectl watch: subscribes to a session and prints every event of it, whoever prompted. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/glivectl/ask_args.h"
#include "client/glivectl/glivectl.h"
#include "client/lib/b64.h"
#include "client/lib/glive.h"
#include "proto/line.h"

const char cmd_watch_usage[] =
    "Usage: glivectl watch [--json] SESSION\n"
    "\n"
    "Subscribes to SESSION and prints every event of it as it arrives, whoever prompted: text\n"
    "streamed, other events one readable line each (--json: the event lines as they are). Runs\n"
    "until interrupted (exit 0) or until gliveD closes the connection.\n";

static void watch_event(const json_t *ev)
{
    const char *name = str_or(ev, "event", "?");
    json_t *tj = json_object_get(ev, "turn");
    char turn[48] = "";
    if (json_is_integer(tj))
        snprintf(turn, sizeof turn, " turn %lld", (long long)json_integer_value(tj));

    if (strcmp(name, "text") == 0) {
        o_puts(&OUT, str_or(ev, "text", ""));
        return;
    }
    o_newline(&OUT);
    if (strcmp(name, "turn_complete") == 0) {
        o_printf(&OUT, "[turn %lld complete]\n", (long long)json_integer_value(tj));
    } else if (strcmp(name, "turn_started") == 0) {
        json_t *of = json_object_get(ev, "of_turn"); /* a follow-up of an async call's answer */
        char ofs[48] = "";
        if (json_is_integer(of))
            snprintf(ofs, sizeof ofs, ", follows turn %lld", (long long)json_integer_value(of));
        o_printf(&OUT, "[turn %lld started: %s%s]\n", (long long)json_integer_value(tj),
                 str_or(ev, "cause", "?"), ofs);
    } else if (strcmp(name, "state") == 0) {
        const char *reason = json_string_value(json_object_get(ev, "reason"));
        o_printf(&OUT, "[state %s%s%s]\n", str_or(ev, "state", "?"), reason ? ": " : "",
                 reason ? reason : "");
    } else if (strcmp(name, "code") == 0) {
        print_code(&OUT, ev);
    } else if (strcmp(name, "code_result") == 0) {
        print_code_result(&OUT, ev);
    } else if (strcmp(name, "audio") == 0) {
        const char *data = str_or(ev, "data", "");
        o_printf(&OUT, "[audio%s: %zu bytes %s]\n", turn, gl_b64_decoded_len(data, strlen(data)),
                 str_or(ev, "mime", ""));
    } else if (strcmp(name, "transcript") == 0) {
        o_printf(&OUT, "[transcript %s%s] %s\n", str_or(ev, "source", "output"), turn,
                 str_or(ev, "text", ""));
    } else if (strcmp(name, "grounding") == 0) {
        json_t *acc = json_array();
        gl_grounding_collect(json_object_get(ev, "metadata"), acc);
        char *src = gl_grounding_format(acc);
        o_printf(&OUT, "[grounding%s]\n%s", turn, src ? src : "");
        free(src);
        json_decref(acc);
    } else if (strcmp(name, "tool_call") == 0) {
        char *args = dump(json_object_get(ev, "args"));
        o_printf(&OUT, "[tool_call%s] %s(%s) id=%s\n", turn, str_or(ev, "name", "?"), args,
                 str_or(ev, "call_id", "?"));
        free(args);
    } else if (strcmp(name, "tool_result") == 0) {
        json_t *r = json_object_get(ev, "response");
        char *resp = dump(r ? r : json_object_get(ev, "error"));
        o_printf(&OUT, "[tool_result%s] %s -> %s%s (by %s) id=%s\n", turn, str_or(ev, "name", "?"),
                 r ? "" : "error: ", resp, str_or(ev, "by", "?"), str_or(ev, "call_id", "?"));
        free(resp);
    } else if (strcmp(name, "tool_cancel") == 0) {
        o_printf(&OUT, "[tool_cancel%s] id=%s\n", turn, str_or(ev, "call_id", "?"));
    } else if (strcmp(name, "interrupted") == 0) {
        const char *reason = json_string_value(json_object_get(ev, "reason"));
        o_printf(&OUT, "[turn %lld interrupted%s%s]\n", (long long)json_integer_value(tj),
                 reason ? ": " : "", reason ? reason : "");
    } else if (strcmp(name, "error") == 0) {
        o_printf(&OUT, "[error%s] %s: %s\n", turn, str_or(ev, "code", "?"), str_or(ev, "message", ""));
    } else {
        char *s = dump(ev);
        o_printf(&OUT, "[%s%s] %s\n", name, turn, s);
        free(s);
    }
}

int cmd_watch(const globals *g, int argc, char **argv)
{
    bool json = false;
    const char *session = NULL;
    int r = simple_args(argc, argv, cmd_watch_usage, &json, &session, 1, "watch");
    if (r)
        return r > 0 ? EXIT_OK : EXIT_USAGE;
    gl_err e;
    if (!gl_session_name_ok(session, &e))
        return usage_fail("watch", "%s", e.msg);
    glive_client *c = connect_daemon(g);
    if (!c)
        return EXIT_CONNECT;
    catch_signals();
    int rc = EXIT_OK;
    json_t *reply = request_ok(c, g, json_pack("{s:s, s:s}", "op", "subscribe", "session", session),
                               &rc);
    if (reply) {
        json_decref(reply);
        for (;;) {
            json_t *ev = wait_event(c, -1, &e);
            if (!ev) {
                if (strcmp(e.code, "signal") == 0) {
                    o_newline(&OUT);
                    rc = EXIT_OK;
                } else if (strcmp(e.code, "eof") == 0) {
                    o_newline(&OUT);
                    errline("[%s]", e.msg);
                    rc = EXIT_OK;
                } else {
                    rc = report(&e);
                }
                break;
            }
            if (json)
                print_json_line(ev);
            else
                watch_event(ev);
            json_decref(ev);
        }
    }
    glive_close(c);
    return rc;
}
