/* libFuzzer target: the emulator's strict parser of client messages (emulator/strict.c), which
 * reads whatever a websocket client sends to glive-emulator.
 * Contracts checked (abort = reported as a crash), from emulator/strict.h:
 *  - success: a known kind, a body, an empty reason;
 *  - failure: EMU_MSG_INVALID, no body, a reason of 1..123 bytes that is valid UTF-8 (it goes
 *    into a close frame, whose reason must be UTF-8) and fits the caller's buffer, however small;
 *  - the normalized body, sent again under its kind, is accepted and comes back unchanged
 *    (except that a lone value given for a repeated field gains a level of nesting, which may pass
 *    the depth limit). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "emulator/strict.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gl_xalloc_init(); /* as emulator/main.c does */
    return 0;
}

static void check_reason(const char *reason, size_t cap)
{
    size_t n = strlen(reason);
    CHECK(n >= 1 && n <= 123 && n < cap);
    json_t *s = json_stringn(reason, n); /* NULL unless valid UTF-8 */
    CHECK(s);
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char reason[256];
    json_t *body = NULL;
    emu_msg_kind k = emu_parse_client_msg(s, size, &body, reason, sizeof reason);
    if (k == EMU_MSG_INVALID) {
        CHECK(body == NULL);
        check_reason(reason, sizeof reason);
        /* Small buffers: cut, NUL-terminated, never past the end (ASan watches the heap copy). */
        size_t cap = size % 24 + 1;
        char *small = gl_xmalloc(cap);
        CHECK(emu_parse_client_msg(s, size, NULL, small, cap) == EMU_MSG_INVALID);
        CHECK(strlen(small) < cap);
        free(small);
        return 0;
    }
    CHECK(body && reason[0] == '\0');
    const char *name = emu_msg_kind_name(k);
    CHECK(strcmp(name, "invalid") != 0);

    json_t *msg = json_pack("{sO}", name, body);
    char *again = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    CHECK(again);
    json_t *body2 = NULL;
    emu_msg_kind k2 = emu_parse_client_msg(again, strlen(again), &body2, reason, sizeof reason);
    if (k2 == EMU_MSG_INVALID)
        CHECK(strstr(reason, "Message too deep"));
    else
        CHECK(k2 == k && json_equal(body, body2));
    json_decref(body2);
    free(again);
    json_decref(msg);
    json_decref(body);
    return 0;
}
