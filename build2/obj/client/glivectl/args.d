build2/obj/client/glivectl/args.o: client/glivectl/args.c \
 client/glivectl/glivectl.h client/lib/glive.h common/err.h
client/glivectl/glivectl.h:
client/lib/glive.h:
common/err.h:
