build2/obj/tests/unit/test_client.o: tests/unit/test_client.c \
 client/glivectl/ask_args.h common/err.h client/lib/b64.h \
 client/lib/glive.h client/lib/wav.h tests/unit/testlib.h
client/glivectl/ask_args.h:
common/err.h:
client/lib/b64.h:
client/lib/glive.h:
client/lib/wav.h:
tests/unit/testlib.h:
