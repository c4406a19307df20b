build2/obj/transport/ws.o: transport/ws.c transport/ws.h common/err.h \
 transport/http.h common/buf.h transport/url.h common/log.h \
 common/xalloc.h transport/tls.h
transport/ws.h:
common/err.h:
transport/http.h:
common/buf.h:
transport/url.h:
common/log.h:
common/xalloc.h:
transport/tls.h:
