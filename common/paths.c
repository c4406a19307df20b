#include "common/paths.h"

#include <stdio.h>
#include <stdlib.h>

int gl_default_socket_path(char *out, size_t outlen, gl_err *err)
{
    const char *v;
    int n;
    if ((v = getenv("GLIVE_SOCKET")) && *v)
        n = snprintf(out, outlen, "%s", v);
    else if ((v = getenv("RUNTIME_DIRECTORY")) && *v)
        n = snprintf(out, outlen, "%s/gliveD.sock", v);
    else if ((v = getenv("XDG_RUNTIME_DIR")) && *v)
        n = snprintf(out, outlen, "%s/glive/gliveD.sock", v);
    else
        n = snprintf(out, outlen, "/run/glive/gliveD.sock");
    if (n < 0 || (size_t)n >= outlen)
        return gl_fail(err, "bad_path", "socket path too long");
    return 0;
}
