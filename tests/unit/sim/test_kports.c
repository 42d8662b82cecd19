/* test_kports.c - a real cluster's node ports (sim/kafka/kafka.h): a
 * pick gives each node a client and a controller port, all different
 * and free, and refuses a node count sim kafka cannot start; the
 * "--ports" argument names them node by node, as sim kafka parses it.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "err.h"
#include "sim/kafka/kafka.h"

TestSuite(kports, .timeout = 10);

Test(kports, every_node_gets_two_ports_none_shared)
{
	int p[SIM_KAFKA_NODES_MAX], c[SIM_KAFKA_NODES_MAX];
	char err[128] = "";
	cr_assert_eq(sim_kafka_pick_ports(SIM_KAFKA_NODES_MAX, p, c, err, sizeof err), 0, "%s",
	             err);
	int all[2 * SIM_KAFKA_NODES_MAX];
	for (int i = 0; i < SIM_KAFKA_NODES_MAX; i++) {
		all[2 * i] = p[i];
		all[2 * i + 1] = c[i];
	}
	for (int i = 0; i < 2 * SIM_KAFKA_NODES_MAX; i++) {
		cr_assert_gt(all[i], 0);
		for (int j = 0; j < i; j++)
			cr_assert_neq(all[i], all[j], "ports %d and %d are both %d", j, i, all[i]);
	}
}

Test(kports, a_node_count_out_of_range_is_refused)
{
	int p[SIM_KAFKA_NODES_MAX + 1], c[SIM_KAFKA_NODES_MAX + 1];
	char err[128] = "";
	cr_assert_eq(sim_kafka_pick_ports(0, p, c, err, sizeof err), ERR_IO);
	cr_assert_eq(sim_kafka_pick_ports(SIM_KAFKA_NODES_MAX + 1, p, c, err, sizeof err), ERR_IO);
	cr_assert(strstr(err, "free ports"), "%s", err);
}

Test(kports, the_argument_names_each_nodes_pair_in_order)
{
	const int p[] = {9092, 9094, 9096}, c[] = {9093, 9095, 9097};
	char out[64];
	sim_kafka_ports_arg(3, p, c, out, sizeof out);
	cr_assert_str_eq(out, "9092:9093,9094:9095,9096:9097");
	sim_kafka_ports_arg(1, p, c, out, sizeof out);
	cr_assert_str_eq(out, "9092:9093");
	/* Cut short, never past the buffer. */
	char small[12];
	sim_kafka_ports_arg(3, p, c, small, sizeof small);
	cr_assert_str_eq(small, "9092:9093,9");
}
