/* tsa.h - clang's thread safety analysis (-Wthread-safety), as macros:
 * a mutex type the analysis tracks, and the lock functions and the
 * functions that need a lock held annotated with it, so that the
 * compiler checks that a function taking a lock lets it go in the same
 * body and that what must run under a lock does. Under gcc, and under a
 * clang without the attributes, every macro is empty: the annotations
 * cost nothing at run time. Any thread.
 */
#ifndef TSA_H
#define TSA_H

#include <pthread.h>

#if defined(__clang__) && defined(__has_attribute)
#if __has_attribute(capability)
#define TSA_(x) __attribute__((x))
#endif
#endif
#ifndef TSA_
#define TSA_(x)
#endif

/* A type whose objects are locks. */
#define TSA_CAPABILITY(name) TSA_(capability(name))
/* The function takes the locks named and returns holding them. */
#define TSA_ACQUIRE(...) TSA_(acquire_capability(__VA_ARGS__))
/* The function takes the locks named when it returns ok (true). */
#define TSA_TRY_ACQUIRE(ok, ...) TSA_(try_acquire_capability(ok, __VA_ARGS__))
/* The function lets go of the locks named, which its caller held. */
#define TSA_RELEASE(...) TSA_(release_capability(__VA_ARGS__))
/* The caller holds the locks named, on entry and on return. */
#define TSA_REQUIRES(...) TSA_(requires_capability(__VA_ARGS__))
/* The caller holds none of the locks named (the function takes them). */
#define TSA_EXCLUDES(...) TSA_(locks_excluded(__VA_ARGS__))
/* Not checked: the lock functions themselves, which call pthreads. */
#define TSA_NO_ANALYSIS TSA_(no_thread_safety_analysis)

/* A pthread mutex the analysis tracks: the same object, so every
 * pthread_mutex_* call takes it as before. */
typedef pthread_mutex_t TSA_CAPABILITY("mutex") tsa_mutex;

/* Takes m, and lets it go, as the analysis follows it: the tree's
 * mutexes are taken through these, or through wrappers annotated the
 * same way where taking one does more (the ledger's). */
static inline void tsa_lock(tsa_mutex *m) TSA_ACQUIRE(*m) TSA_NO_ANALYSIS
{
	pthread_mutex_lock(m);
}

static inline void tsa_unlock(tsa_mutex *m) TSA_RELEASE(*m) TSA_NO_ANALYSIS
{
	pthread_mutex_unlock(m);
}

#endif
