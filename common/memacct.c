/* memacct.c - estimates of heap memory held (memacct.h). Owns nothing;
 * any thread. */
#include "memacct.h"

#include <math.h>

uint64_t memacct_touched(uint64_t bytes, uint64_t writes)
{
	if (!bytes || !writes)
		return 0;
	double pages = ceil((double)bytes / MEMACCT_PAGE);
	/* (1 - 1/pages)^writes without the rounding of a power of a number
	 * near 1; a table of one page is whole after one write. */
	double untouched = pages > 1 ? exp((double)writes * log1p(-1.0 / pages)) : 0;
	double b = pages * (1 - untouched) * MEMACCT_PAGE;
	return b >= (double)bytes ? bytes : (uint64_t)(b + 0.5);
}
