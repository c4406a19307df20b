/* glivectl open / close: a session made (or attached to) with ask's session options, without a
 * prompt; and a session closed (its conversation and saved state forgotten by gliveD). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "client/glivectl/ask_args.h"
#include "client/glivectl/glivectl.h"
#include "client/lib/glive.h"

const char cmd_open_usage[] =
    "Usage: glivectl open [--session NAME] [OPTIONS]\n"
    "\n"
    "Opens a session (or attaches to it, when its configuration is the same) with ask's session\n"
    "options, without a prompt: gliveD connects it now, so the first prompt is answered at once.\n"
    "Prints \"SESSION: created|attached, STATE, MODEL, MODALITY\".\n"
    "\n"
    "  --session NAME      the session (default \"default\")\n"
    "  --model NAME        model of a new session (default: gliveD's)\n"
    "  --audio             a session answering in AUDIO\n"
    "  --code-execution    enable the code execution tool\n"
    "  --google-search     enable the Google Search tool\n"
    "  --function NAME     declare a function NAME (repeatable)\n"
    "  --tools FILE.json   add the Gemini Tool objects of a JSON array\n"
    "  --system TEXT       system instruction\n"
    "  --keep-connected    stay connected even when unused (no idle timeout); for an existing\n"
    "                      session this changes its setting (a parked one connects now)\n"
    "  --no-keep-connected let an existing session close its connection when unused again\n"
    "  --json              print the reply as it is\n"
    "\n"
    "Later prompts attach with the same options or none (glivectl ask --session NAME \"...\"); a\n"
    "session opened with --audio needs it (or a WAV file) with ask too.\n";

const char cmd_close_usage[] =
    "Usage: glivectl close [--session NAME] [--json]\n"
    "\n"
    "Closes a session: its connection ends, prompts still waiting get an error, and gliveD\n"
    "forgets its conversation and saved state. The next prompt to that name starts afresh.\n"
    "\n"
    "  --session NAME      the session (default \"default\")\n"
    "  --json              print the reply as it is\n";

int cmd_open(const globals *g, int argc, char **argv)
{
    gl_ask_opts o;
    gl_err e;
    if (gl_session_parse(GL_CMD_OPEN, argc, argv, &o, &e) < 0) {
        gl_ask_opts_free(&o);
        return usage_fail("open", "%s", e.msg);
    }
    if (o.help) {
        gl_ask_opts_free(&o);
        fputs(cmd_open_usage, stdout);
        return EXIT_OK;
    }
    json_t *req = gl_ask_open_request(&o, &e);
    if (!req) {
        gl_ask_opts_free(&o);
        return usage_fail("open", "%s", e.msg);
    }
    glive_client *c = connect_daemon(g);
    if (!c) {
        json_decref(req);
        gl_ask_opts_free(&o);
        return EXIT_CONNECT;
    }
    int rc = EXIT_OK;
    json_t *reply = request_ok(c, g, req, &rc);
    if (reply && o.json)
        print_json_line(reply);
    else if (reply)
        o_printf(&OUT, "%s: %s, %s, %s, %s\n", str_or(reply, "session", o.session),
                 json_is_true(json_object_get(reply, "created")) ? "created" : "attached",
                 str_or(reply, "state", "?"), str_or(reply, "model", "?"), str_or(reply, "modality", "?"));
    json_decref(reply);
    glive_close(c);
    gl_ask_opts_free(&o);
    return rc;
}

int cmd_close(const globals *g, int argc, char **argv)
{
    gl_ask_opts o;
    gl_err e;
    if (gl_session_parse(GL_CMD_CLOSE, argc, argv, &o, &e) < 0) {
        gl_ask_opts_free(&o);
        return usage_fail("close", "%s", e.msg);
    }
    if (o.help) {
        gl_ask_opts_free(&o);
        fputs(cmd_close_usage, stdout);
        return EXIT_OK;
    }
    glive_client *c = connect_daemon(g);
    if (!c) {
        gl_ask_opts_free(&o);
        return EXIT_CONNECT;
    }
    int rc = EXIT_OK;
    json_t *reply = request_ok(c, g, json_pack("{s:s, s:s}", "op", "close", "session", o.session), &rc);
    if (reply && o.json)
        print_json_line(reply);
    else if (reply)
        o_printf(&OUT, "%s: closed\n", o.session);
    json_decref(reply);
    glive_close(c);
    gl_ask_opts_free(&o);
    return rc;
}
