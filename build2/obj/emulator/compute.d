build2/obj/emulator/compute.o: emulator/compute.c emulator/compute.h
emulator/compute.h:
