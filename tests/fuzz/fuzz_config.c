/* fuzz_config.c - libFuzzer target for the INI config parser
 * (common/config.c) with the edge's real option table (edge_options,
 * edge/config/options.c): each input is written to
 * a memfd and loaded with cfg_load, then applied as one
 * "section.key=value" override with cfg_set (on the loaded config, or on
 * the defaults when the load failed), and everything is freed, so the
 * leak checker sees any string the parser loses. The table covers
 * CFG_STR, CFG_INT, CFG_BOOL and the [kafka], [kafka.producer] and
 * [kafka.consumer] CFG_PASSTHROUGH sections.
 * Single-threaded; the memfd is made once in LLVMFuzzerInitialize.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edge/config/edge.h"
#include "config.h"
#include "log.h"
#include "xmem.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_threshold = -1; /* the parser logs every bad file */
	fd = memfd_create("fuzz_config", 0);
	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	edge_config cfg;
	char err[256];

	if (ftruncate(fd, 0) || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	memset(&cfg, 0, sizeof cfg);
	if (cfg_load(edge_options, edge_noptions, &cfg, path, err, sizeof err)) {
		memset(&cfg, 0, sizeof cfg);
		cfg_defaults(edge_options, edge_noptions, &cfg);
	}

	char *assignment = xmalloc(size + 1);
	memcpy(assignment, data, size);
	assignment[size] = 0;
	/* The list a kafka.* override must land in: the longest section the
	 * key starts with. */
	cfg_kv **kept = strncmp(assignment, "kafka.producer.", 15) == 0   ? &cfg.kafka_producer
	                : strncmp(assignment, "kafka.consumer.", 15) == 0 ? &cfg.kafka_consumer
	                                                                  : &cfg.kafka;
	if (cfg_set(edge_options, edge_noptions, &cfg, assignment, err, sizeof err) == 0 &&
	    *kept == NULL && strncmp(assignment, "kafka.", 6) == 0 && strchr(assignment, '=') &&
	    !memchr(data, 0, size))
		abort(); /* a kafka.* override that was accepted but not kept */
	free(assignment);
	cfg_free(edge_options, edge_noptions, &cfg);
	return 0;
}
