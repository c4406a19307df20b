build2/obj/daemon/upstream.o: daemon/upstream.c daemon/upstream.h \
 common/err.h transport/ws.h transport/http.h common/buf.h \
 transport/url.h
daemon/upstream.h:
common/err.h:
transport/ws.h:
transport/http.h:
common/buf.h:
transport/url.h:
