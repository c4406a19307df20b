build2/obj/emulator/strict.o: emulator/strict.c emulator/strict.h
emulator/strict.h:
