build2/obj/transport/url.o: transport/url.c transport/url.h common/err.h
transport/url.h:
common/err.h:
