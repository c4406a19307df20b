build2/obj/client/glivectl/conn.o: client/glivectl/conn.c \
 client/glivectl/glivectl.h client/lib/glive.h common/err.h
client/glivectl/glivectl.h:
client/lib/glive.h:
common/err.h:
