/* ledger_base.c - what every file of the ledger reads of the ledger as a
 * whole, below every concept: the ledger whose writer mutex this thread
 * holds (ledger_int.h's lock functions keep it) and whether the ledger
 * follows an active one. Defined here and not in ledger.c, which calls
 * every concept, so that no concept calls back up into it. Any thread.
 */
#include "edge/ledger/ledger_int.h"

_Thread_local const ledger *ledger_mine;

bool ledger_following(const ledger *l)
{
	return atomic_load(&l->following);
}
