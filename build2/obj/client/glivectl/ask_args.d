build2/obj/client/glivectl/ask_args.o: client/glivectl/ask_args.c \
 client/glivectl/ask_args.h common/err.h common/xalloc.h proto/line.h
client/glivectl/ask_args.h:
common/err.h:
common/xalloc.h:
proto/line.h:
