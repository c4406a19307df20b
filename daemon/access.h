/* Who may do what (issue 10): the two rules, in one place, as pure functions (unit-tested in
 * tests/unit/test_access.c without sockets).
 *
 * 1. Who may connect (gld_peer_admits), decided by daemon/ipc.c at accept from the kernel's
 *    record of the peer (SO_PEERCRED, SO_PEERGROUPS): the daemon's own uid, root, members of the
 *    socket's group (--socket-group: the peer's primary or a supplementary group), the uids of
 *    --allow-uid and the members of the groups of --allow-group. Everyone else gets one
 *    `refused` line and the close.
 * 2. Who may use a session (gld_access_allows): the uid that opened it, root, and, for a
 *    session opened with `shared: true`, every connected uid. Every op that names a session
 *    (send, subscribe, close, tool.result, tool.register, unsubscribe, list and status) applies
 *    it; a session a client may not use is answered as if it did not exist (no_session).
 *    Routing a function call to a handler (daemon/tools.c) uses gld_access_serves: a `*`
 *    handler serves the sessions of its own uid and shared ones, never another uid's private
 *    session (root's `*` handlers included: root takes over a session's calls only by naming
 *    it). */
#ifndef GLD_ACCESS_H
#define GLD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Bound of --allow-uid and --allow-group (entries each). */
#define GLD_MAX_ALLOW 64

typedef struct gld_peer_policy {
    uid_t self;                   /* the daemon's effective uid */
    bool has_group;               /* --socket-group names a group that exists */
    gid_t group;
    char group_name[64];          /* for messages */
    unsigned nuids, ngids;
    uid_t uids[GLD_MAX_ALLOW];    /* --allow-uid */
    gid_t gids[GLD_MAX_ALLOW];    /* --allow-group */
} gld_peer_policy;

/* Why p admits the peer (uid, its primary gid, its supplementary groups: BORROWED, n of them,
 * may be NULL): "its own uid", "root", "the socket group", "--allow-uid", "--allow-group"; NULL
 * if it does not. */
const char *gld_peer_admits(const gld_peer_policy *p, uid_t uid, gid_t gid, const gid_t *groups,
                            size_t ngroups);
/* Whether gld_peer_admits can say yes for a group at all (else the peer's groups need not be
 * read). */
bool gld_peer_policy_has_groups(const gld_peer_policy *p);

/* A session's owner and whether it is shared. */
typedef struct gld_access {
    uid_t owner;
    bool shared;
} gld_access;

/* uid may use the session: its owner, root, or anyone when shared. */
bool gld_access_allows(const gld_access *a, uid_t uid);
/* A handler of uid may serve the session's function calls: by a registration naming the
 * session (named: the same rule as gld_access_allows), or by a "*" registration (the owner's
 * own, or a shared session's; root is not special here). */
bool gld_access_serves(const gld_access *a, uid_t uid, bool named);

#endif
