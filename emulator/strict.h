/* Strict parsing of client messages, as the real Live API does it: one top-level key, every field
 * known (snake_case or lowerCamelCase, even mixed), right JSON types. The first violation yields a
 * close reason worded like the real service's, e.g.
 *   Invalid JSON payload received. Unknown name "x" at 'tool_response.function_responses[0]': Cannot find field.
 * (paths use the proto's snake_case names).
 *
 * Its tables are independent of the daemon's codec (proto/live.c) ON PURPOSE: the emulator is a
 * second, separate reading of the API (the v1beta proto), so it catches codec bugs instead of
 * sharing them. tests/unit/test_codec_agreement.c proves the two agree. */
#ifndef EMU_STRICT_H
#define EMU_STRICT_H

#include <jansson.h>
#include <stddef.h>

typedef enum {
    EMU_MSG_INVALID = 0,
    EMU_MSG_SETUP,
    EMU_MSG_CLIENT_CONTENT,
    EMU_MSG_REALTIME_INPUT,
    EMU_MSG_TOOL_RESPONSE,
    EMU_MSG_CONTEXT_UPDATE,
} emu_msg_kind;

/* Parses one client message (the websocket payload, text or binary).
 * On success returns its kind and sets *out to a new reference: the message's body (the value
 * under the single top-level key) with every known key renamed to lowerCamelCase. Free-form
 * values (function args/response, Struct fields) are copied unchanged.
 * On failure returns EMU_MSG_INVALID, *out = NULL, and writes a reason (<= 123 bytes, the close
 * frame limit, cut like the real service cuts) into reason. The caller closes with 1007. */
emu_msg_kind emu_parse_client_msg(const char *data, size_t len, json_t **out, char *reason,
                                  size_t reasonlen);

/* "setup", "clientContent", ... for logs and stats. */
const char *emu_msg_kind_name(emu_msg_kind k);

#endif
