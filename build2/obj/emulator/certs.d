build2/obj/emulator/certs.o: emulator/certs.c emulator/certs.h \
 common/err.h
emulator/certs.h:
common/err.h:
