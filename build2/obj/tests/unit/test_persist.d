build2/obj/tests/unit/test_persist.o: tests/unit/test_persist.c \
 common/log.h daemon/persist.h common/err.h tests/unit/testlib.h
common/log.h:
daemon/persist.h:
common/err.h:
tests/unit/testlib.h:
