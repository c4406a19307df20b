build2/obj/tests/unit/test_live.o: tests/unit/test_live.c proto/live.h \
 common/err.h proto/line.h tests/unit/testlib.h
proto/live.h:
common/err.h:
proto/line.h:
tests/unit/testlib.h:
