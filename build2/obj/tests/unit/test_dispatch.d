build2/obj/tests/unit/test_dispatch.o: tests/unit/test_dispatch.c \
 common/log.h daemon/dispatch.h daemon/daemon.h daemon/config.h \
 common/err.h daemon/ipc.h daemon/session.h daemon/calls.h proto/live.h \
 daemon/tools.h daemon/upstream.h transport/ws.h transport/http.h \
 common/buf.h transport/url.h tests/unit/fake_ipc.h tests/unit/testlib.h
common/log.h:
daemon/dispatch.h:
daemon/daemon.h:
daemon/config.h:
common/err.h:
daemon/ipc.h:
daemon/session.h:
daemon/calls.h:
proto/live.h:
daemon/tools.h:
daemon/upstream.h:
transport/ws.h:
transport/http.h:
common/buf.h:
transport/url.h:
tests/unit/fake_ipc.h:
tests/unit/testlib.h:
