build2/obj/emulator/main.o: emulator/main.c common/log.h common/xalloc.h \
 emulator/certs.h common/err.h emulator/rules.h emulator/server.h \
 emulator/model.h transport/tls.h common/buf.h
common/log.h:
common/xalloc.h:
emulator/certs.h:
common/err.h:
emulator/rules.h:
emulator/server.h:
emulator/model.h:
transport/tls.h:
common/buf.h:
