build2/obj/transport/http.o: transport/http.c transport/http.h \
 common/buf.h common/err.h transport/url.h
transport/http.h:
common/buf.h:
common/err.h:
transport/url.h:
