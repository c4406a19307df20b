build2/obj/client/glivectl/cmd_tool.o: client/glivectl/cmd_tool.c \
 client/glivectl/glivectl.h client/lib/glive.h common/err.h \
 client/glivectl/tool_run.h common/buf.h common/xalloc.h proto/errors.h
client/glivectl/glivectl.h:
client/lib/glive.h:
common/err.h:
client/glivectl/tool_run.h:
common/buf.h:
common/xalloc.h:
proto/errors.h:
