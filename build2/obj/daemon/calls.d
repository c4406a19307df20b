build2/obj/daemon/calls.o: daemon/calls.c daemon/calls.h common/err.h \
 daemon/daemon.h daemon/config.h common/log.h daemon/ipc.h proto/live.h \
 common/xalloc.h daemon/tools.h proto/errors.h proto/line.h
daemon/calls.h:
common/err.h:
daemon/daemon.h:
daemon/config.h:
common/log.h:
daemon/ipc.h:
proto/live.h:
common/xalloc.h:
daemon/tools.h:
proto/errors.h:
proto/line.h:
