build2/obj/client/glivectl/cmd_ask.o: client/glivectl/cmd_ask.c \
 client/glivectl/ask_args.h common/err.h client/glivectl/glivectl.h \
 client/lib/glive.h common/xalloc.h client/lib/b64.h client/lib/wav.h \
 proto/errors.h proto/line.h
client/glivectl/ask_args.h:
common/err.h:
client/glivectl/glivectl.h:
client/lib/glive.h:
common/xalloc.h:
client/lib/b64.h:
client/lib/wav.h:
proto/errors.h:
proto/line.h:
