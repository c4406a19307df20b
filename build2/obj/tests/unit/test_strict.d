build2/obj/tests/unit/test_strict.o: tests/unit/test_strict.c \
 emulator/rules.h emulator/strict.h tests/unit/testlib.h
emulator/rules.h:
emulator/strict.h:
tests/unit/testlib.h:
