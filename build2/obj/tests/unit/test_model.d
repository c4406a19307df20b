build2/obj/tests/unit/test_model.o: tests/unit/test_model.c common/err.h \
 emulator/audio.h emulator/compute.h emulator/corpus.h emulator/model.h \
 emulator/model_priv.h tests/unit/testlib.h
common/err.h:
emulator/audio.h:
emulator/compute.h:
emulator/corpus.h:
emulator/model.h:
emulator/model_priv.h:
tests/unit/testlib.h:
