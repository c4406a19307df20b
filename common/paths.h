/* Where the daemon's socket lives by default, shared by gliveD and its clients:
 * $GLIVE_SOCKET, else $RUNTIME_DIRECTORY/gliveD.sock (systemd's RuntimeDirectory=),
 * else $XDG_RUNTIME_DIR/glive/gliveD.sock, else /run/glive/gliveD.sock. */
#ifndef GL_PATHS_H
#define GL_PATHS_H

#include <stddef.h>

#include "common/err.h"

int gl_default_socket_path(char *out, size_t outlen, gl_err *err);

#endif
