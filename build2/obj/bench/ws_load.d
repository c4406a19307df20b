build2/obj/bench/ws_load.o: bench/ws_load.c common/err.h common/xalloc.h \
 proto/live.h transport/tls.h common/buf.h transport/ws.h \
 transport/http.h transport/url.h
common/err.h:
common/xalloc.h:
proto/live.h:
transport/tls.h:
common/buf.h:
transport/ws.h:
transport/http.h:
transport/url.h:
