build2/obj/emulator/default_script.o: emulator/default_script.c \
 emulator/model_priv.h emulator/model.h common/err.h
emulator/model_priv.h:
emulator/model.h:
common/err.h:
