build2/obj/client/lib/glive.o: client/lib/glive.c client/lib/glive.h \
 common/err.h common/paths.h common/xalloc.h proto/line.h
client/lib/glive.h:
common/err.h:
common/paths.h:
common/xalloc.h:
proto/line.h:
