build2/obj/client/lib/wav.o: client/lib/wav.c client/lib/wav.h \
 common/err.h common/xalloc.h
client/lib/wav.h:
common/err.h:
common/xalloc.h:
