build2/obj/client/glivectl/cmd_status.o: client/glivectl/cmd_status.c \
 client/glivectl/glivectl.h client/lib/glive.h common/err.h
client/glivectl/glivectl.h:
client/lib/glive.h:
common/err.h:
