/* cmd.h - sim's commands, one function each, called by main.c's
 * dispatcher with argv[0] the command's name. Each parses its own
 * options (opt.h) and returns the process's exit status: 0 done, 1 the
 * run or its verdict failed, 2 a usage error (reported with the usage
 * text). Main thread; a command may start threads of its own.
 *
 *   cmd_kafka.c    broker, kafka: a Kafka cluster served until a signal
 *   cmd_drill.c    drill, nemesis: a drill file run, or one drawn first
 *   cmd_measure.c  bench-central, bench-views, bench-feed, produce-batches,
 *                  fill, pace, converge-probe: a run, its results printed
 *                  and judged
 */
#ifndef SIM_CMD_H
#define SIM_CMD_H

int cmd_broker(int argc, char **argv);
int cmd_kafka(int argc, char **argv);

int cmd_drill(int argc, char **argv);
int cmd_nemesis(int argc, char **argv);

int cmd_bench_central(int argc, char **argv);
int cmd_bench_views(int argc, char **argv);
int cmd_bench_feed(int argc, char **argv);
int cmd_produce_batches(int argc, char **argv);
int cmd_fill(int argc, char **argv);
int cmd_pace(int argc, char **argv);
int cmd_converge_probe(int argc, char **argv);

#endif
