/*
 * config_dump.c - the effective configuration as YAML (rrtcp check -T).
 *
 * Prints a struct rr_config after defaults, $VAR expansion and -o overrides,
 * in a form config_load() reads back to the same values: strings are
 * double-quoted with escapes, durations use Go's notation.  Reads only the
 * struct; no diagnostics, no allocation.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MIB	(1024 * 1024)


/* Go's time.Duration.String() for a whole number of milliseconds. */
static void
fmt_duration(char *buf, size_t size, int64_t ms)
{
	int64_t h, m, sec, frac;
	char s[32];
	size_t n;

	if (ms == 0) {
		snprintf(buf, size, "0s");
		return;
	}
	if (ms < 1000) {
		snprintf(buf, size, "%" PRId64 "ms", ms);
		return;
	}
	h = ms / 3600000;
	m = ms / 60000 % 60;
	sec = ms / 1000 % 60;
	frac = ms % 1000;
	if (frac != 0) {
		snprintf(s, sizeof(s), "%" PRId64 ".%03" PRId64, sec, frac);
		for (n = strlen(s); s[n - 1] == '0'; n--)
			s[n - 1] = '\0';
	} else
		snprintf(s, sizeof(s), "%" PRId64, sec);
	if (h > 0)
		snprintf(buf, size, "%" PRId64 "h%" PRId64 "m%ss", h, m, s);
	else if (m > 0)
		snprintf(buf, size, "%" PRId64 "m%ss", m, s);
	else
		snprintf(buf, size, "%ss", s);
}

/* A double-quoted YAML string: reads back as exactly these bytes. */
static void
dump_str(FILE *fp, const char *s, size_t n)
{
	size_t i;

	fputc('"', fp);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			fputs("\\\"", fp);
			break;
		case '\\':
			fputs("\\\\", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		case '\0':
			fputs("\\0", fp);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(fp, "\\x%02x", c);
			else
				fputc(c, fp);
		}
	}
	fputc('"', fp);
}

static void
dump_kv_str(FILE *fp, const char *indent, const char *key, const char *s)
{
	fprintf(fp, "%s%s: ", indent, key);
	dump_str(fp, s, strlen(s));
	fputc('\n', fp);
}

static void
dump_kv_dur(FILE *fp, const char *indent, const char *key, int64_t ms)
{
	char b[64];

	fmt_duration(b, sizeof(b), ms);
	fprintf(fp, "%s%s: %s\n", indent, key, b);
}

void
config_dump(const struct rr_config *cfg, FILE *fp)
{
	const struct rr_pool_conf *p = &cfg->pool;
	const char *eq;
	size_t i;

	fprintf(fp, "# effective configuration of %s\n", cfg->file);
	if (cfg->workdir != NULL)
		fprintf(fp, "# workdir: %s\n", cfg->workdir);
	dump_kv_str(fp, "", "version", cfg->version ? cfg->version : "3");

	fprintf(fp, "server:\n");
	dump_kv_str(fp, "  ", "relay", "pipes");
	if (cfg->env != NULL && cfg->env[0] != NULL) {
		fprintf(fp, "  env:\n");
		for (i = 0; cfg->env[i] != NULL; i++) {
			eq = strchr(cfg->env[i], '=');
			fprintf(fp, "    ");
			dump_str(fp, cfg->env[i], (size_t)(eq - cfg->env[i]));
			fprintf(fp, ": ");
			dump_str(fp, eq + 1, strlen(eq + 1));
			fputc('\n', fp);
		}
	}

	if (cfg->rpc_listen != NULL) {
		fprintf(fp, "rpc:\n");
		dump_kv_str(fp, "  ", "listen", cfg->rpc_listen);
		fprintf(fp, "  max_connections: %" PRIu64 "\n",
		    cfg->rpc_max_connections);
		fprintf(fp, "  max_frame_size: %zu\n", cfg->rpc_max_frame_size);
		dump_kv_dur(fp, "  ", "read_timeout", cfg->rpc_read_timeout_ms);
	} else
		fprintf(fp, "# rpc: not configured (no RPC server, no "
		    "RR_RPC)\n");

	if (cfg->status_addr != NULL) {
		fprintf(fp, "status:\n");
		dump_kv_str(fp, "  ", "address", cfg->status_addr);
		fprintf(fp, "  unavailable_status_code: %d\n",
		    cfg->status_unavailable_code);
	}
	if (cfg->metrics_addr != NULL) {
		fprintf(fp, "metrics:\n");
		dump_kv_str(fp, "  ", "address", cfg->metrics_addr);
	}

	fprintf(fp, "logs:\n");
	dump_kv_str(fp, "  ", "level", cfg->log_level);
	dump_kv_str(fp, "  ", "encoding", cfg->log_encoding);
	dump_kv_str(fp, "  ", "output", cfg->log_output);
	fprintf(fp, "  worker_lines_per_second: %" PRIu64 "\n",
	    cfg->worker_lines);

	fprintf(fp, "tcp:\n  servers:\n");
	for (i = 0; i < cfg->nservers; i++) {
		const struct rr_server_conf *s = &cfg->servers[i];

		fprintf(fp, "    ");
		dump_str(fp, s->name, strlen(s->name));
		fprintf(fp, ":\n");
		dump_kv_str(fp, "      ", "addr", s->addr ? s->addr : "");
		fprintf(fp, "      delimiter: ");
		dump_str(fp, s->delim, s->delim_len);
		fprintf(fp, "\n      max_message_size: %zu\n",
		    s->max_message_size);
		dump_kv_dur(fp, "      ", "idle_timeout", s->idle_timeout_ms);
		dump_kv_dur(fp, "      ", "write_timeout", s->write_timeout_ms);
		fprintf(fp, "      max_output_buffer: %zu\n",
		    s->max_output_buffer);
		fprintf(fp, "      max_connections_per_ip: %" PRIu64 "\n",
		    s->max_connections_per_ip);
	}
	fprintf(fp, "  read_buf_size: %zu  # MiB\n",
	    cfg->read_buf_size / MIB);
	fprintf(fp, "  reactors: %u\n", cfg->reactors);
	fprintf(fp, "  max_connections: %" PRIu64 "\n", cfg->max_connections);
	fprintf(fp, "  max_frame_size: %zu\n", cfg->max_frame_size);
	dump_kv_dur(fp, "  ", "close_timeout", cfg->close_timeout_ms);
	dump_kv_dur(fp, "  ", "drain_delay", cfg->drain_delay_ms);
	fprintf(fp, "  max_buffer_memory: %zu\n", cfg->max_buffer_memory);
	fprintf(fp, "  fence: %s\n", cfg->fence_always ? "always" : "on_stray");

	fprintf(fp, "  pool:\n    command: [");
	for (i = 0; p->command != NULL && p->command[i] != NULL; i++) {
		if (i > 0)
			fprintf(fp, ", ");
		dump_str(fp, p->command[i], strlen(p->command[i]));
	}
	fprintf(fp, "]\n");
	fprintf(fp, "    num_workers: %u\n", p->num_workers);
	fprintf(fp, "    max_workers: %u\n", p->max_workers);
	fprintf(fp, "    max_jobs: %" PRIu64 "\n", p->max_jobs);
	fprintf(fp, "    max_queue_size: %" PRIu64 "\n", p->max_queue_size);
	dump_kv_dur(fp, "    ", "allocate_timeout", p->allocate_timeout_ms);
	dump_kv_dur(fp, "    ", "destroy_timeout", p->destroy_timeout_ms);
	dump_kv_dur(fp, "    ", "reset_timeout", p->reset_timeout_ms);
	dump_kv_dur(fp, "    ", "stream_timeout", p->stream_timeout_ms);
	fprintf(fp, "    debug: %s\n", p->debug ? "true" : "false");
	if (p->supervisor.enabled) {
		fprintf(fp, "    supervisor:\n");
		dump_kv_dur(fp, "      ", "watch_tick",
		    p->supervisor.watch_tick_ms);
		dump_kv_dur(fp, "      ", "ttl", p->supervisor.ttl_ms);
		dump_kv_dur(fp, "      ", "idle_ttl",
		    p->supervisor.idle_ttl_ms);
		fprintf(fp, "      max_worker_memory: %" PRIu64 "\n",
		    p->supervisor.max_worker_memory_mb);
		dump_kv_dur(fp, "      ", "exec_ttl",
		    p->supervisor.exec_ttl_ms);
	} else
		fprintf(fp, "    # supervisor: not configured (disabled)\n");
	if (p->dynamic.enabled) {
		fprintf(fp, "    dynamic_allocator:\n");
		fprintf(fp, "      max_workers: %u\n", p->dynamic.max_workers);
		fprintf(fp, "      spawn_rate: %u\n", p->dynamic.spawn_rate);
		dump_kv_dur(fp, "      ", "idle_timeout",
		    p->dynamic.idle_timeout_ms);
	} else
		fprintf(fp, "    # dynamic_allocator: not configured "
		    "(disabled)\n");
}
