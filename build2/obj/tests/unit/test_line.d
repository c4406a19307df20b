build2/obj/tests/unit/test_line.o: tests/unit/test_line.c proto/line.h \
 common/err.h tests/unit/testlib.h
proto/line.h:
common/err.h:
tests/unit/testlib.h:
