build2/obj/daemon/persist.o: daemon/persist.c daemon/persist.h \
 common/err.h common/log.h proto/errors.h proto/line.h
daemon/persist.h:
common/err.h:
common/log.h:
proto/errors.h:
proto/line.h:
