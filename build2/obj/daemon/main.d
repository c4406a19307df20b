build2/obj/daemon/main.o: daemon/main.c common/log.h common/xalloc.h \
 daemon/daemon.h daemon/config.h common/err.h daemon/ipc.h \
 daemon/dispatch.h daemon/persist.h daemon/upstream.h transport/ws.h \
 transport/http.h common/buf.h transport/url.h daemon/session.h \
 daemon/calls.h proto/live.h daemon/tools.h transport/tls.h
common/log.h:
common/xalloc.h:
daemon/daemon.h:
daemon/config.h:
common/err.h:
daemon/ipc.h:
daemon/dispatch.h:
daemon/persist.h:
daemon/upstream.h:
transport/ws.h:
transport/http.h:
common/buf.h:
transport/url.h:
daemon/session.h:
daemon/calls.h:
proto/live.h:
daemon/tools.h:
transport/tls.h:
