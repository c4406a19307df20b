build2/obj/emulator/rules.o: emulator/rules.c emulator/rules.h
emulator/rules.h:
