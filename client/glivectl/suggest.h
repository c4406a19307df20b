/* "Did you mean": the closest of a list of names to a mistyped one, for glivectl's usage errors
 * (commands and options). Pure: no I/O. */
#ifndef GL_CLIENT_SUGGEST_H
#define GL_CLIENT_SUGGEST_H

#include <stddef.h>

/* The optimal string alignment distance between a and b (insertions, deletions, substitutions
 * and swaps of two neighbours each cost 1; "stauts" is 1 from "status"), ASCII bytes compared
 * case-insensitively. Strings longer than GL_SUGGEST_MAX_LEN count as far from everything. */
#define GL_SUGGEST_MAX_LEN 64
size_t gl_edit_distance(const char *a, size_t alen, const char *b);

/* The name of `names` (n of them, NULL entries skipped) that `word` (its first wlen bytes) most
 * likely meant, or NULL when none is close: the unique name word is a prefix of ("--code" ->
 * "--code-execution"), else the nearest within a distance that grows with the length (1 for
 * up to 4 characters, 2 up to 8, 3 beyond: "ak" -> "ask", "--sesion" -> "--session"), ties
 * going to the first. A word equal to a name gets NULL: it was not mistyped. */
const char *gl_suggest(const char *word, size_t wlen, const char *const *names, size_t n);

#endif
