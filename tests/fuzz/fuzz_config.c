/*
 * fuzz_config.c - libFuzzer target for config_load().
 *
 * The input is written to a memfd and loaded through /proc/self/fd/N, so the
 * real file path of config_load() runs, including reading and workdir
 * resolution.  Leading lines "#o key.path=value" (YAML comments, so the file
 * stays valid) also become -o overrides, which exercises the override code.
 *
 * Properties checked: config_load() returns a config or reports at least
 * one error; a returned config has the invariants callers rely on; dumping
 * and freeing it is clean under ASan/LSan.  The report callback is silent.
 */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_OVERRIDES	8

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
	int	errors;
};

static void
count(void *arg, enum config_level level, const char *text)
{
	struct tally *t = arg;

	assert(text != NULL && *text != '\0');
	if (level == CONFIG_ERROR)
		t->errors++;
}

/* Copies the "#o ..." lines at the start of data into ovr[]. */
static size_t
overrides(const uint8_t *data, size_t size, char **ovr)
{
	size_t n = 0, pos = 0, end;

	while (n < MAX_OVERRIDES && size - pos > 3 &&
	    memcmp(data + pos, "#o ", 3) == 0) {
		for (end = pos + 3; end < size && data[end] != '\n'; end++)
			;
		ovr[n] = strndup((const char *)data + pos + 3, end - pos - 3);
		if (ovr[n] == NULL)
			break;
		n++;
		pos = end < size ? end + 1 : end;
	}
	return n;
}

static void
check(const struct rr_config *cfg)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *fp;

	assert(cfg->nservers > 0 && cfg->servers != NULL);
	for (i = 0; i < cfg->nservers; i++) {
		const struct rr_server_conf *s = &cfg->servers[i];

		assert(s->name != NULL && s->addr != NULL);
		assert(s->delim != NULL && s->delim_len > 0);
		assert(s->max_message_size >= s->delim_len);
		assert(s->max_message_size < UINT32_MAX);
		if (s->is_unix)
			assert(s->path != NULL && *s->path != '\0');
		else
			assert(s->host != NULL && s->port != NULL);
	}
	assert(cfg->pool.command != NULL && cfg->pool.command[0] != NULL);
	assert(cfg->env != NULL);
	assert(cfg->pool.num_workers >= 1 && cfg->pool.num_workers <= 500);
	assert(cfg->reactors >= 1 && cfg->max_connections >= 1);
	assert(cfg->reactors <= RR_MAX_REACTORS);
	assert(cfg->max_frame_size >= RR_MIN_FRAME_SIZE &&
	    cfg->max_frame_size <= UINT32_MAX);
	assert(cfg->workdir != NULL && cfg->version != NULL);
	assert(cfg->pool.allocate_timeout_ms > 0);
	if ((fp = open_memstream(&buf, &len)) != NULL) {
		config_dump(cfg, fp);
		fclose(fp);
		assert(len > 0);
		free(buf);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_opts opts;
	struct rr_config *cfg;
	struct tally t = { 0 };
	char path[64], *ovr[MAX_OVERRIDES];
	size_t i;
	int fd;

	if ((fd = memfd_create("fuzz_config", MFD_CLOEXEC)) == -1)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	memset(&opts, 0, sizeof(opts));
	opts.noverrides = overrides(data, size, ovr);
	opts.overrides = ovr;

	cfg = config_load(path, &opts, count, &t);
	assert(cfg != NULL || t.errors >= 1);
	assert(cfg == NULL || t.errors == 0);
	if (cfg != NULL)
		check(cfg);
	config_free(cfg);

	for (i = 0; i < opts.noverrides; i++)
		free(ovr[i]);
	close(fd);
	return 0;
}
