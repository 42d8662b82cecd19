/* opsckpt.h - the ops API's checkpoint stream (opsckpt.c), which edges
 * load their replica from. The ops API's thread. */
#ifndef CENTRAL_OPSCKPT_H
#define CENTRAL_OPSCKPT_H

#include "central/ops/opsroute.h"

/* GET /v1/checkpoint?partitions=LIST[&after_counter=C&after_item=I],
 * or ?partitions=LIST&home=REGION (opsapi.h says what it streams) */
void ops_route_checkpoint(const ops_env *env, const ops_call *call);

extern const char *const ops_checkpoint_params[];

#endif
