build2/obj/tests/unit/test_transport.o: tests/unit/test_transport.c \
 common/log.h emulator/certs.h common/err.h tests/unit/testlib.h \
 transport/http.h common/buf.h transport/url.h transport/tls.h \
 transport/ws.h
common/log.h:
emulator/certs.h:
common/err.h:
tests/unit/testlib.h:
transport/http.h:
common/buf.h:
transport/url.h:
transport/tls.h:
transport/ws.h:
