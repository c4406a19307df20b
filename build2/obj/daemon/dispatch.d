build2/obj/daemon/dispatch.o: daemon/dispatch.c daemon/dispatch.h \
 daemon/daemon.h daemon/config.h common/err.h common/log.h daemon/ipc.h \
 daemon/session.h daemon/calls.h proto/live.h daemon/tools.h \
 proto/errors.h proto/line.h proto/version.h
daemon/dispatch.h:
daemon/daemon.h:
daemon/config.h:
common/err.h:
common/log.h:
daemon/ipc.h:
daemon/session.h:
daemon/calls.h:
proto/live.h:
daemon/tools.h:
proto/errors.h:
proto/line.h:
proto/version.h:
