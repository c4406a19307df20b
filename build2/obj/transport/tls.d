build2/obj/transport/tls.o: transport/tls.c transport/tls.h common/buf.h \
 common/err.h common/xalloc.h transport/url.h
transport/tls.h:
common/buf.h:
common/err.h:
common/xalloc.h:
transport/url.h:
