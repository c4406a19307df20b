build2/obj/daemon/config.o: daemon/config.c daemon/config.h common/err.h \
 common/log.h common/paths.h proto/errors.h proto/version.h \
 daemon/models.h
daemon/config.h:
common/err.h:
common/log.h:
common/paths.h:
proto/errors.h:
proto/version.h:
daemon/models.h:
