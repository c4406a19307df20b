/* Unit tests of daemon/access.c: who may connect, who may use a session, whose handler serves
 * a session's calls. */
#include "daemon/access.h"
#include "tests/unit/testlib.h"

TEST(own_uid_and_root_always_connect_others_only_by_the_policy)
{
    gld_peer_policy p = {.self = 999};
    CHECK_STR(gld_peer_admits(&p, 999, 5, NULL, 0), "its own uid");
    CHECK_STR(gld_peer_admits(&p, 0, 0, NULL, 0), "root");
    CHECK(gld_peer_admits(&p, 1000, 1000, NULL, 0) == NULL);
    CHECK(!gld_peer_policy_has_groups(&p));
    p.nuids = 2;
    p.uids[0] = 1000;
    p.uids[1] = 1001;
    CHECK_STR(gld_peer_admits(&p, 1001, 1001, NULL, 0), "--allow-uid");
    CHECK(gld_peer_admits(&p, 1002, 1002, NULL, 0) == NULL);
}

TEST(the_socket_group_admits_by_primary_or_supplementary_group)
{
    gld_peer_policy p = {.self = 999, .has_group = true, .group = 500};
    gid_t sup[] = {7, 500, 9};
    CHECK(gld_peer_policy_has_groups(&p));
    CHECK_STR(gld_peer_admits(&p, 1000, 500, NULL, 0), "the socket group");
    CHECK_STR(gld_peer_admits(&p, 1000, 1000, sup, 3), "the socket group");
    CHECK(gld_peer_admits(&p, 1000, 1000, sup, 1) == NULL); /* only the groups it holds */
    CHECK(gld_peer_admits(&p, 1000, 1000, NULL, 0) == NULL);
    p.has_group = false; /* --socket-group "" or a group that does not exist */
    CHECK(gld_peer_admits(&p, 1000, 500, sup, 3) == NULL);
}

TEST(allow_group_admits_members_of_any_listed_group)
{
    gld_peer_policy p = {.self = 999, .ngids = 2, .gids = {600, 601}};
    gid_t sup[] = {601};
    CHECK(gld_peer_policy_has_groups(&p));
    CHECK_STR(gld_peer_admits(&p, 1000, 600, NULL, 0), "--allow-group");
    CHECK_STR(gld_peer_admits(&p, 1000, 1000, sup, 1), "--allow-group");
    CHECK(gld_peer_admits(&p, 1000, 1000, NULL, 0) == NULL);
}

TEST(a_session_is_its_owners_and_roots_unless_shared)
{
    gld_access a = {.owner = 1000};
    CHECK(gld_access_allows(&a, 1000));
    CHECK(gld_access_allows(&a, 0));
    CHECK(!gld_access_allows(&a, 1001));
    a.shared = true;
    CHECK(gld_access_allows(&a, 1001));
}

TEST(a_star_handler_serves_its_own_uids_and_shared_sessions_only)
{
    gld_access a = {.owner = 1000};
    CHECK(gld_access_serves(&a, 1000, false));
    CHECK(!gld_access_serves(&a, 1001, false));
    CHECK(!gld_access_serves(&a, 0, false)); /* root takes over calls only by naming the session */
    CHECK(gld_access_serves(&a, 0, true));
    CHECK(!gld_access_serves(&a, 1001, true));
    a.shared = true;
    CHECK(gld_access_serves(&a, 1001, false));
    CHECK(gld_access_serves(&a, 1001, true));
}
