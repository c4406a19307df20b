build2/obj/daemon/ipc.o: daemon/ipc.c daemon/ipc.h common/err.h \
 common/buf.h common/log.h common/xalloc.h proto/errors.h proto/line.h
daemon/ipc.h:
common/err.h:
common/buf.h:
common/log.h:
common/xalloc.h:
proto/errors.h:
proto/line.h:
