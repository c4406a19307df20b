build2/obj/tests/unit/fake_ipc.o: tests/unit/fake_ipc.c \
 tests/unit/fake_ipc.h daemon/ipc.h common/err.h common/buf.h \
 common/xalloc.h
tests/unit/fake_ipc.h:
daemon/ipc.h:
common/err.h:
common/buf.h:
common/xalloc.h:
