build2/obj/client/glivectl/cmd_sessions.o: client/glivectl/cmd_sessions.c \
 client/glivectl/glivectl.h client/lib/glive.h common/err.h \
 common/xalloc.h
client/glivectl/glivectl.h:
client/lib/glive.h:
common/err.h:
common/xalloc.h:
