build2/obj/proto/live.o: proto/live.c proto/live.h common/err.h \
 proto/errors.h proto/line.h common/xalloc.h
proto/live.h:
common/err.h:
proto/errors.h:
proto/line.h:
common/xalloc.h:
