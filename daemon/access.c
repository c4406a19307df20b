#include "daemon/access.h"

static bool has_id(const unsigned *v, unsigned n, unsigned id)
{
    for (unsigned i = 0; i < n; i++)
        if (v[i] == id)
            return true;
    return false;
}

static bool has_gid(const gid_t *v, size_t n, gid_t g)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == g)
            return true;
    return false;
}

/* The peer is in group g: its primary group or one of its supplementary groups. */
static bool member(gid_t g, gid_t gid, const gid_t *groups, size_t ngroups)
{
    return gid == g || (groups && has_gid(groups, ngroups, g));
}

const char *gld_peer_admits(const gld_peer_policy *p, uid_t uid, gid_t gid, const gid_t *groups,
                            size_t ngroups)
{
    _Static_assert(sizeof(uid_t) == sizeof(unsigned) && sizeof(gid_t) == sizeof(unsigned),
                   "ids are unsigned ints");
    if (uid == p->self)
        return "its own uid";
    if (uid == 0)
        return "root";
    if (has_id(p->uids, p->nuids, uid))
        return "--allow-uid";
    if (p->has_group && member(p->group, gid, groups, ngroups))
        return "the socket group";
    for (unsigned i = 0; i < p->ngids; i++)
        if (member(p->gids[i], gid, groups, ngroups))
            return "--allow-group";
    return NULL;
}

bool gld_peer_policy_has_groups(const gld_peer_policy *p) { return p->has_group || p->ngids > 0; }

bool gld_access_allows(const gld_access *a, uid_t uid)
{
    return a->shared || uid == a->owner || uid == 0;
}

bool gld_access_serves(const gld_access *a, uid_t uid, bool named)
{
    if (named)
        return gld_access_allows(a, uid);
    return a->shared || uid == a->owner;
}
