build2/obj/tests/unit/test_ipc.o: tests/unit/test_ipc.c common/log.h \
 daemon/ipc.h common/err.h tests/unit/testlib.h
common/log.h:
daemon/ipc.h:
common/err.h:
tests/unit/testlib.h:
