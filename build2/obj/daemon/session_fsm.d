build2/obj/daemon/session_fsm.o: daemon/session_fsm.c \
 daemon/session_fsm.h
daemon/session_fsm.h:
