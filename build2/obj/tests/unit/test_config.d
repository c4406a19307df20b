build2/obj/tests/unit/test_config.o: tests/unit/test_config.c \
 daemon/config.h common/err.h common/log.h tests/unit/testlib.h
daemon/config.h:
common/err.h:
common/log.h:
tests/unit/testlib.h:
