build2/obj/client/glivectl/tool_run.o: client/glivectl/tool_run.c \
 client/glivectl/tool_run.h common/err.h common/buf.h common/xalloc.h \
 proto/line.h
client/glivectl/tool_run.h:
common/err.h:
common/buf.h:
common/xalloc.h:
proto/line.h:
