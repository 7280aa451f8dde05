/*
 * config_keys.c - the known keys of each section, and what to say about the
 * others.
 *
 * keys_match() pairs the keys of a map with a section's table of fields.
 * An unknown key is a warning with a hint: the nearest known key of that
 * section, or the section where a key of that name belongs.  RoadRunner
 * would start with the typo, so rrtcp does too, but says so.  Duplicates
 * are errors, as in yaml.v3.  What the values mean is config.c's business.
 */
#include "config_keys.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_value.h"

/*
 * Other plugins' sections named in the info line.  Each name is compared
 * with those listed so far, so the bound also keeps a file with very many
 * top-level keys linear.
 */
#define OTHERS_LISTED	32

/*
 * Every known key, so that a key placed in the wrong section can be pointed
 * to the right one ("num_workers" under tcp -> tcp.pool.num_workers).
 */
static const char *const known_paths[] = {
	"version", "server.command", "server.env", "server.user",
	"server.group", "server.relay", "server.relay_timeout",
	"server.on_init", "rpc.listen", "rpc.max_connections",
	"rpc.max_frame_size", "rpc.read_timeout", "logs.level", "logs.encoding",
	"logs.output", "logs.mode", "logs.worker_lines_per_second",
	"status.address", "status.unavailable_status_code", "metrics.address",
	"metrics.collect",
	"tcp.servers", "tcp.servers.<name>.addr",
	"tcp.servers.<name>.delimiter", "tcp.servers.<name>.max_message_size",
	"tcp.servers.<name>.idle_timeout", "tcp.servers.<name>.write_timeout",
	"tcp.servers.<name>.max_output_buffer",
	"tcp.servers.<name>.max_connections_per_ip",
	"tcp.read_buf_size", "tcp.reactors", "tcp.max_connections",
	"tcp.max_frame_size", "tcp.close_timeout", "tcp.drain_delay",
	"tcp.max_buffer_memory", "tcp.fence", "tcp.pool",
	"tcp.pool.command", "tcp.pool.num_workers", "tcp.pool.max_workers",
	"tcp.pool.max_jobs", "tcp.pool.max_queue_size", "tcp.pool.allocate_timeout",
	"tcp.pool.destroy_timeout", "tcp.pool.reset_timeout",
	"tcp.pool.stream_timeout", "tcp.pool.debug", "tcp.pool.supervisor",
	"tcp.pool.supervisor.watch_tick", "tcp.pool.supervisor.ttl",
	"tcp.pool.supervisor.idle_ttl", "tcp.pool.supervisor.max_worker_memory",
	"tcp.pool.supervisor.exec_ttl", "tcp.pool.dynamic_allocator",
	"tcp.pool.dynamic_allocator.max_workers",
	"tcp.pool.dynamic_allocator.spawn_rate",
	"tcp.pool.dynamic_allocator.idle_timeout",
};

/*
 * Top-level sections of other RoadRunner plugins.  Any unknown top-level key
 * is ignored; this list only keeps names such as "grpc" (one edit from
 * "rpc") from being reported as typos of rrtcp's own sections.
 */
static const char *const other_plugins[] = {
	"amqp", "app_logger", "beanstalk", "boltdb", "broadcast",
	"centrifuge", "config", "endure", "fileserver", "gps", "grpc",
	"headers", "http", "informer", "jobs", "kafka", "kv", "lock", "locks",
	"memcached", "memory", "nats", "otel", "redis", "reload",
	"resetter", "service", "sqs", "static", "temporal",
	"websockets",
};

/* Optimal string alignment distance, for "did you mean" hints. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t d[33][33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

static int
is_other_plugin(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(other_plugins) / sizeof(other_plugins[0]); i++)
		if (strcmp(key, other_plugins[i]) == 0)
			return 1;
	return 0;
}

static const char *
suggest(const char *key, const struct field *f, size_t nf)
{
	const char *best = NULL;
	size_t i, d, bestd = 3;

	for (i = 0; i < nf; i++) {
		d = edit_distance(key, f[i].f_name);
		if (d < bestd) {
			bestd = d;
			best = f[i].f_name;
		}
	}
	return best;
}

/* A known key of another section whose last component is key. */
static const char *
elsewhere(const char *key, const char *section)
{
	size_t i, kl = strlen(key), sl = strlen(section), pl;

	for (i = 0; i < sizeof(known_paths) / sizeof(known_paths[0]); i++) {
		const char *p = known_paths[i];

		pl = strlen(p);
		if (pl <= kl || p[pl - kl - 1] != '.' ||
		    strcmp(p + pl - kl, key) != 0)
			continue;
		/* not the section the key already is in */
		if (pl - kl - 1 == sl && strncmp(p, section, sl) == 0)
			continue;
		return p;
	}
	return NULL;
}

static void
unknown_key(struct loader *ld, const struct node *k, const char *section,
    const struct field *f, size_t nf)
{
	char eb[128], *key;
	const char *hint;

	ESC(k, eb);
	if ((key = diag_strdup(ld, k->n_str)) == NULL)
		return;
	value_lower(key);
	if ((hint = suggest(key, f, nf)) != NULL)
		diag(ld, CONFIG_WARN, k->n_line, "unknown key \"%s\" in %s, "
		    "ignored; did you mean \"%s\"?", eb, section, hint);
	else if ((hint = elsewhere(key, section)) != NULL)
		diag(ld, CONFIG_WARN, k->n_line, "unknown key \"%s\" in %s, "
		    "ignored; did you mean %s?", eb, section, hint);
	else
		diag(ld, CONFIG_WARN, k->n_line, "unknown key \"%s\" in %s, "
		    "ignored", eb, section);
	free(key);
}

/* Keys are scalars without NUL bytes; anything else is reported. */
int
keys_check(struct loader *ld, const struct node *k, const char *section)
{
	if (k->n_type != NODE_SCALAR) {
		diag(ld, CONFIG_ERROR, k->n_line, "%s: a key must be a "
		    "scalar, got %s", section, node_type_name(k));
		return -1;
	}
	if (strlen(k->n_str) != k->n_len) {
		diag(ld, CONFIG_ERROR, k->n_line, "%s: a key contains a NUL "
		    "byte", section);
		return -1;
	}
	return 0;
}

/*
 * Matches the keys of map against f[0..nf): unknown keys are warnings (a
 * typo must not stop a server that RoadRunner would start), duplicates are
 * errors (yaml.v3 rejects them too).
 */
void
keys_match(struct loader *ld, const struct node *map, const char *section,
    struct field *f, size_t nf)
{
	const struct node *k;
	char eb[128];
	size_t i, j;

	if (node_is_null(map))
		return;
	for (i = 0; i + 1 < map->n_nkids; i += 2) {
		k = map->n_kids[i];
		if (keys_check(ld, k, section) == -1)
			continue;
		for (j = 0; j < nf; j++)
			if (node_key_is(k, f[j].f_name))
				break;
		if (j == nf) {
			unknown_key(ld, k, section, f, nf);
			continue;
		}
		if (f[j].f_key != NULL) {
			diag(ld, CONFIG_ERROR, k->n_line, "duplicate key "
			    "\"%s\" in %s (first at line %d)", ESC(k, eb),
			    section, f[j].f_key->n_line);
			continue;
		}
		f[j].f_key = k;
		f[j].f_val = map->n_kids[i + 1];
	}
}


/* One info line naming the other plugins' sections (seen[] is freed). */
static void
others_report(struct loader *ld, char **seen, size_t nseen, int more)
{
	char *list = NULL;
	size_t len = 0, i;
	FILE *fp;

	if (nseen == 0)
		return;
	if ((fp = open_memstream(&list, &len)) == NULL)
		diag_oom(ld);
	for (i = 0; i < nseen; i++) {
		if (fp != NULL)
			fprintf(fp, "%s%s", i > 0 ? ", " : "", seen[i]);
		free(seen[i]);
	}
	if (fp != NULL && more)
		fputs(", ...", fp);
	if (fp != NULL && fclose(fp) == 0)
		diag(ld, CONFIG_INFO, LINE_NONE, "ignoring sections of other "
		    "RoadRunner plugins: %s", list);
	else if (fp != NULL)
		diag_oom(ld);
	free(list);
}

/*
 * The top level: our sections go into f[0..nf), "include" and other
 * plugins' sections are noted, and a near miss of one of ours is a typo.
 */
void
keys_match_top(struct loader *ld, const struct node *root, struct field *f,
    size_t nf)
{
	const struct node *k;
	const char *hint;
	char *key, *seen[OTHERS_LISTED], eb[128];
	size_t i, j, nseen = 0;
	int more = 0;

	for (i = 0; root != NULL && i + 1 < root->n_nkids; i += 2) {
		k = root->n_kids[i];
		if (keys_check(ld, k, "top level") == -1)
			continue;
		for (j = 0; j < nf; j++)
			if (node_key_is(k, f[j].f_name))
				break;
		if (j < nf) {
			if (f[j].f_key != NULL)
				diag(ld, CONFIG_ERROR, k->n_line, "duplicate "
				    "key \"%s\" (first at line %d)",
				    ESC(k, eb), f[j].f_key->n_line);
			else {
				f[j].f_key = k;
				f[j].f_val = root->n_kids[i + 1];
			}
			continue;
		}
		if ((key = diag_strdup(ld, k->n_str)) == NULL)
			continue;
		value_lower(key);
		if (strcmp(key, "include") == 0) {
			diag(ld, CONFIG_WARN, k->n_line, "include: not "
			    "supported by rrtcp; the included files are not "
			    "read");
		} else if (!is_other_plugin(key) &&
		    (hint = suggest(key, f, nf)) != NULL &&
		    edit_distance(key, hint) <= 1) {
			/* one edit from a section of ours: surely a typo */
			diag(ld, CONFIG_WARN, k->n_line, "unknown section "
			    "\"%s\", ignored; did you mean \"%s\"?",
			    ESC(k, eb), hint);
		} else {
			/* each name once, even if the file repeats it */
			for (j = 0; j < nseen; j++)
				if (strcmp(seen[j], key) == 0)
					break;
			if (j == nseen && nseen == OTHERS_LISTED)
				more = 1;
			else if (j == nseen) {
				seen[nseen++] = key;
				continue;
			}
		}
		free(key);
	}
	others_report(ld, seen, nseen, more);
}
