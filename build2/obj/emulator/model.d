build2/obj/emulator/model.o: emulator/model.c emulator/model.h \
 common/err.h emulator/audio.h emulator/compute.h emulator/corpus.h \
 emulator/model_priv.h
emulator/model.h:
common/err.h:
emulator/audio.h:
emulator/compute.h:
emulator/corpus.h:
emulator/model_priv.h:
