build2/obj/proto/line.o: proto/line.c proto/line.h common/err.h \
 common/xalloc.h proto/errors.h
proto/line.h:
common/err.h:
common/xalloc.h:
proto/errors.h:
