build2/obj/emulator/server.o: emulator/server.c emulator/server.h \
 common/err.h emulator/model.h common/log.h emulator/rules.h \
 emulator/strict.h transport/ws.h transport/http.h common/buf.h \
 transport/url.h
emulator/server.h:
common/err.h:
emulator/model.h:
common/log.h:
emulator/rules.h:
emulator/strict.h:
transport/ws.h:
transport/http.h:
common/buf.h:
transport/url.h:
