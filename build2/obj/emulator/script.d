build2/obj/emulator/script.o: emulator/script.c emulator/model_priv.h \
 emulator/model.h common/err.h
emulator/model_priv.h:
emulator/model.h:
common/err.h:
