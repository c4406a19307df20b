# scripts/errcodes.sed: the line protocol's error-code literals -> proto/errors.h constants,
# e.g. gl_fail(err, "bad_request", ...) -> gl_fail(err, GL_E_BAD_REQUEST, ...). One-off, for the
# lead after merging; re-running it changes nothing.
#
#   sed -i -f scripts/errcodes.sed daemon/*.c client/*.c proto/*.c
#
# Only those three layers: common/, transport/ and emulator/ may not include proto/ (make
# check-layers) and their codes are not the line protocol's. Not tests/: they pin the wire
# strings on purpose. Always with -i (or -s): the script reads one whole file at a time.
#
# Only error-code positions change, never other strings that look alike (state "closed", the
# status key "upstream"...):
#   gl_fail(ERR, "code", ...)        the code argument
#   gl_reply_err(ID, "code", ...)    the code argument
#   fail_queue(S, "code", ...)       daemon/session.c's turn error events
#   strcmp(X.code, "code")           a received code compared (X.code, X->code)
#   code ? code : "code"             a default code (proto/line.c)
# Left alone on purpose: daemon/session.c's gl_fail(&err, "closed", "not connected"), an internal
# code that never reaches a client (it is only logged) and does not mean GL_E_CLOSED.
# A file that gets a constant gets #include "proto/errors.h" too: before the first later include
# that sorts after it, else after its last include.

# whole file in the pattern space
:a
N
$!ba

s/gl_fail(&err, "closed", "not connected")/gl_fail(\&err, "closed"@KEEP@, "not connected")/
s/\(gl_fail([^,()"]*,[[:space:]]*\)"bad_json"\([,)]\)/\1GL_E_BAD_JSON\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"bad_json"\([,)]\)/\1GL_E_BAD_JSON\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"bad_json"\([,)]\)/\1GL_E_BAD_JSON\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"bad_json")/\1GL_E_BAD_JSON)/g
s/\(code[[:space:]]*:[[:space:]]*\)"bad_json"\([,)]\)/\1GL_E_BAD_JSON\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"bad_request"\([,)]\)/\1GL_E_BAD_REQUEST\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"bad_request"\([,)]\)/\1GL_E_BAD_REQUEST\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"bad_request"\([,)]\)/\1GL_E_BAD_REQUEST\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"bad_request")/\1GL_E_BAD_REQUEST)/g
s/\(code[[:space:]]*:[[:space:]]*\)"bad_request"\([,)]\)/\1GL_E_BAD_REQUEST\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"line_too_long"\([,)]\)/\1GL_E_LINE_TOO_LONG\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"line_too_long"\([,)]\)/\1GL_E_LINE_TOO_LONG\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"line_too_long"\([,)]\)/\1GL_E_LINE_TOO_LONG\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"line_too_long")/\1GL_E_LINE_TOO_LONG)/g
s/\(code[[:space:]]*:[[:space:]]*\)"line_too_long"\([,)]\)/\1GL_E_LINE_TOO_LONG\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"unknown_op"\([,)]\)/\1GL_E_UNKNOWN_OP\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"unknown_op"\([,)]\)/\1GL_E_UNKNOWN_OP\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"unknown_op"\([,)]\)/\1GL_E_UNKNOWN_OP\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"unknown_op")/\1GL_E_UNKNOWN_OP)/g
s/\(code[[:space:]]*:[[:space:]]*\)"unknown_op"\([,)]\)/\1GL_E_UNKNOWN_OP\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"no_session"\([,)]\)/\1GL_E_NO_SESSION\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"no_session"\([,)]\)/\1GL_E_NO_SESSION\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"no_session"\([,)]\)/\1GL_E_NO_SESSION\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"no_session")/\1GL_E_NO_SESSION)/g
s/\(code[[:space:]]*:[[:space:]]*\)"no_session"\([,)]\)/\1GL_E_NO_SESSION\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"busy"\([,)]\)/\1GL_E_BUSY\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"busy"\([,)]\)/\1GL_E_BUSY\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"busy"\([,)]\)/\1GL_E_BUSY\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"busy")/\1GL_E_BUSY)/g
s/\(code[[:space:]]*:[[:space:]]*\)"busy"\([,)]\)/\1GL_E_BUSY\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"conflict"\([,)]\)/\1GL_E_CONFLICT\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"conflict"\([,)]\)/\1GL_E_CONFLICT\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"conflict"\([,)]\)/\1GL_E_CONFLICT\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"conflict")/\1GL_E_CONFLICT)/g
s/\(code[[:space:]]*:[[:space:]]*\)"conflict"\([,)]\)/\1GL_E_CONFLICT\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"unknown_call"\([,)]\)/\1GL_E_UNKNOWN_CALL\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"unknown_call"\([,)]\)/\1GL_E_UNKNOWN_CALL\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"unknown_call"\([,)]\)/\1GL_E_UNKNOWN_CALL\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"unknown_call")/\1GL_E_UNKNOWN_CALL)/g
s/\(code[[:space:]]*:[[:space:]]*\)"unknown_call"\([,)]\)/\1GL_E_UNKNOWN_CALL\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"tool_exists"\([,)]\)/\1GL_E_TOOL_EXISTS\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"tool_exists"\([,)]\)/\1GL_E_TOOL_EXISTS\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"tool_exists"\([,)]\)/\1GL_E_TOOL_EXISTS\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"tool_exists")/\1GL_E_TOOL_EXISTS)/g
s/\(code[[:space:]]*:[[:space:]]*\)"tool_exists"\([,)]\)/\1GL_E_TOOL_EXISTS\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"shutting_down"\([,)]\)/\1GL_E_SHUTTING_DOWN\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"shutting_down"\([,)]\)/\1GL_E_SHUTTING_DOWN\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"shutting_down"\([,)]\)/\1GL_E_SHUTTING_DOWN\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"shutting_down")/\1GL_E_SHUTTING_DOWN)/g
s/\(code[[:space:]]*:[[:space:]]*\)"shutting_down"\([,)]\)/\1GL_E_SHUTTING_DOWN\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"no_key"\([,)]\)/\1GL_E_NO_KEY\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"no_key"\([,)]\)/\1GL_E_NO_KEY\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"no_key"\([,)]\)/\1GL_E_NO_KEY\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"no_key")/\1GL_E_NO_KEY)/g
s/\(code[[:space:]]*:[[:space:]]*\)"no_key"\([,)]\)/\1GL_E_NO_KEY\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"closed"\([,)]\)/\1GL_E_CLOSED\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"closed"\([,)]\)/\1GL_E_CLOSED\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"closed"\([,)]\)/\1GL_E_CLOSED\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"closed")/\1GL_E_CLOSED)/g
s/\(code[[:space:]]*:[[:space:]]*\)"closed"\([,)]\)/\1GL_E_CLOSED\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"upstream"\([,)]\)/\1GL_E_UPSTREAM\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"upstream"\([,)]\)/\1GL_E_UPSTREAM\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"upstream"\([,)]\)/\1GL_E_UPSTREAM\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"upstream")/\1GL_E_UPSTREAM)/g
s/\(code[[:space:]]*:[[:space:]]*\)"upstream"\([,)]\)/\1GL_E_UPSTREAM\2/g
s/\(gl_fail([^,()"]*,[[:space:]]*\)"internal"\([,)]\)/\1GL_E_INTERNAL\2/g
s/\(gl_reply_err([^,()"]*,[[:space:]]*\)"internal"\([,)]\)/\1GL_E_INTERNAL\2/g
s/\(fail_queue([^,()"]*,[[:space:]]*\)"internal"\([,)]\)/\1GL_E_INTERNAL\2/g
s/\(strcmp([^,()"]*code,[[:space:]]*\)"internal")/\1GL_E_INTERNAL)/g
s/\(code[[:space:]]*:[[:space:]]*\)"internal"\([,)]\)/\1GL_E_INTERNAL\2/g
s/"closed"@KEEP@/"closed"/

# the #include, once, where a constant is used (the file's own header, its first include, stays first)
/GL_E_[A-Z]/{
/#include "proto\/errors\.h"/!{
s/#include "/#include@FIRST@ "/
s/\n#include "\(proto\/[f-z]\|[q-z]\)/\n#include "proto\/errors.h"@DONE@\n#include "\1/
s/#include@FIRST@ "/#include "/
/@DONE@/!{
s/\(.*#include [<"][^>"]*[>"]\)/\1@LAST@/
s/\(#include <[^>]*>\)@LAST@/\1\n\n#include "proto\/errors.h"/
s/@LAST@/\n#include "proto\/errors.h"/
}
s/@DONE@//
}
}
