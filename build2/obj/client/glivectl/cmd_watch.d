build2/obj/client/glivectl/cmd_watch.o: client/glivectl/cmd_watch.c \
 client/glivectl/ask_args.h common/err.h client/glivectl/glivectl.h \
 client/lib/glive.h client/lib/b64.h proto/line.h
client/glivectl/ask_args.h:
common/err.h:
client/glivectl/glivectl.h:
client/lib/glive.h:
client/lib/b64.h:
proto/line.h:
