build2/obj/client/glivectl/main.o: client/glivectl/main.c \
 client/glivectl/ask_args.h common/err.h client/glivectl/glivectl.h \
 client/lib/glive.h common/xalloc.h proto/version.h
client/glivectl/ask_args.h:
common/err.h:
client/glivectl/glivectl.h:
client/lib/glive.h:
common/xalloc.h:
proto/version.h:
