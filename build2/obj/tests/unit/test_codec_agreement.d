build2/obj/tests/unit/test_codec_agreement.o: \
 tests/unit/test_codec_agreement.c daemon/models.h emulator/rules.h \
 emulator/strict.h proto/live.h common/err.h tests/unit/testlib.h
daemon/models.h:
emulator/rules.h:
emulator/strict.h:
proto/live.h:
common/err.h:
tests/unit/testlib.h:
