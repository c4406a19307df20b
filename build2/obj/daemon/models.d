build2/obj/daemon/models.o: daemon/models.c daemon/models.h
daemon/models.h:
