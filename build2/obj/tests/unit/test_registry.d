build2/obj/tests/unit/test_registry.o: tests/unit/test_registry.c \
 common/log.h daemon/tools.h common/err.h daemon/daemon.h daemon/config.h \
 daemon/ipc.h tests/unit/fake_ipc.h tests/unit/testlib.h
common/log.h:
daemon/tools.h:
common/err.h:
daemon/daemon.h:
daemon/config.h:
daemon/ipc.h:
tests/unit/fake_ipc.h:
tests/unit/testlib.h:
