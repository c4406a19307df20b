build2/obj/common/paths.o: common/paths.c common/paths.h common/err.h
common/paths.h:
common/err.h:
