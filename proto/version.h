/* One home for the versions every program reports: the release of gliveD's programs and the
 * version of the line protocol (proto/PROTOCOL.md), which changes only incompatibly. */
#ifndef GL_VERSION_H
#define GL_VERSION_H

#define GL_VERSION "0.1.0"
#define GL_PROTOCOL_VERSION 1

#endif
