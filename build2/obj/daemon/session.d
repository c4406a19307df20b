build2/obj/daemon/session.o: daemon/session.c daemon/session.h \
 common/err.h daemon/calls.h daemon/daemon.h daemon/config.h common/log.h \
 daemon/ipc.h proto/live.h common/xalloc.h daemon/models.h \
 daemon/persist.h daemon/session_fsm.h daemon/tools.h daemon/upstream.h \
 transport/ws.h transport/http.h common/buf.h transport/url.h \
 proto/errors.h proto/line.h
daemon/session.h:
common/err.h:
daemon/calls.h:
daemon/daemon.h:
daemon/config.h:
common/log.h:
daemon/ipc.h:
proto/live.h:
common/xalloc.h:
daemon/models.h:
daemon/persist.h:
daemon/session_fsm.h:
daemon/tools.h:
daemon/upstream.h:
transport/ws.h:
transport/http.h:
common/buf.h:
transport/url.h:
proto/errors.h:
proto/line.h:
