build2/obj/tests/unit/test_session.o: tests/unit/test_session.c \
 common/log.h daemon/session.h common/err.h daemon/calls.h \
 daemon/daemon.h daemon/config.h daemon/ipc.h proto/live.h \
 daemon/session_fsm.h daemon/tools.h daemon/upstream.h transport/ws.h \
 transport/http.h common/buf.h transport/url.h tests/unit/fake_ipc.h \
 tests/unit/testlib.h
common/log.h:
daemon/session.h:
common/err.h:
daemon/calls.h:
daemon/daemon.h:
daemon/config.h:
daemon/ipc.h:
proto/live.h:
daemon/session_fsm.h:
daemon/tools.h:
daemon/upstream.h:
transport/ws.h:
transport/http.h:
common/buf.h:
transport/url.h:
tests/unit/fake_ipc.h:
tests/unit/testlib.h:
