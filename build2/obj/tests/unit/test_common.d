build2/obj/tests/unit/test_common.o: tests/unit/test_common.c \
 common/buf.h common/err.h common/log.h tests/unit/testlib.h
common/buf.h:
common/err.h:
common/log.h:
tests/unit/testlib.h:
