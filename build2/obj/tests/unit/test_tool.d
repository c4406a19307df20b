build2/obj/tests/unit/test_tool.o: tests/unit/test_tool.c \
 client/glivectl/tool_run.h common/err.h tests/unit/testlib.h
client/glivectl/tool_run.h:
common/err.h:
tests/unit/testlib.h:
