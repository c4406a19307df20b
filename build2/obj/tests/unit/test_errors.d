build2/obj/tests/unit/test_errors.o: tests/unit/test_errors.c \
 proto/errors.h tests/unit/testlib.h
proto/errors.h:
tests/unit/testlib.h:
