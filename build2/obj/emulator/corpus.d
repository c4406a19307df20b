build2/obj/emulator/corpus.o: emulator/corpus.c emulator/corpus.h
emulator/corpus.h:
