build2/obj/client/lib/b64.o: client/lib/b64.c client/lib/b64.h \
 common/err.h common/xalloc.h
client/lib/b64.h:
common/err.h:
common/xalloc.h:
