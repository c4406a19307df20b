build2/obj/emulator/audio.o: emulator/audio.c emulator/audio.h
emulator/audio.h:
