build2/obj/client/glivectl/output.o: client/glivectl/output.c \
 client/glivectl/glivectl.h client/lib/glive.h common/err.h \
 common/xalloc.h
client/glivectl/glivectl.h:
client/lib/glive.h:
common/err.h:
common/xalloc.h:
