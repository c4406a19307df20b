build2/obj/daemon/tools.o: daemon/tools.c daemon/tools.h common/err.h \
 daemon/daemon.h daemon/config.h common/log.h daemon/ipc.h \
 common/xalloc.h proto/errors.h proto/line.h proto/live.h
daemon/tools.h:
common/err.h:
daemon/daemon.h:
daemon/config.h:
common/log.h:
daemon/ipc.h:
common/xalloc.h:
proto/errors.h:
proto/line.h:
proto/live.h:
