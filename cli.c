/*
 * cli.c - rrtcp check [-T] | workers [-i] | reset | stop [-f].
 *
 * Each reads the same config as serve (-c, -w, -o) to find rpc.listen or
 * the work directory.  check also tries what serve will try (preflight.c).  workers and reset use informer.Workers and
 * resetter.Reset over RPC; unlike rr reset, an error is reported and the
 * exit status says so (Q18).  stop signals the pid in the work dir's .pid.
 */
#include "cli.h"

#include <cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "preflight.h"
#include "rpc.h"

#define RPC_TIMEOUT_MS	5000

/* Kept in step with the SYNOPSIS of man/rrtcp.1 (tests/e2e/test_cli.py). */
static const char usage_text[] =
    "usage: rrtcp serve [-pt] [-c file] [-w dir] [-o key.path=value]...\n"
    "       rrtcp check [-T] [-c file] [-w dir] [-o key.path=value]...\n"
    "       rrtcp workers [-i] [-c file] [-w dir] [-o key.path=value]...\n"
    "       rrtcp reset [-c file] [-w dir] [-o key.path=value]...\n"
    "       rrtcp stop [-f] [-c file] [-w dir] [-o key.path=value]...\n"
    "       rrtcp -v | --version\n";

void
usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

static void
report(void *arg, enum config_level level, const char *text)
{
	if (level != CONFIG_INFO)
		fprintf(stderr, "%s%s\n", text,
		    level == CONFIG_WARN ? " (warning)" : "");
}

/*
 * check: load and validate the config as serve does, then try what serve
 * will try (preflight.c: the worker's program, each server's name and
 * address).  With dump (-T), print the effective config on stdout instead
 * of "configuration OK", so that the output is YAML that check reads back.
 */
static int
check(const char *file, const struct config_opts *opts, int dump)
{
	struct rr_config *cfg = config_load(file, opts, report, NULL);
	int ok;

	if (cfg == NULL)
		return 2;
	/* Relative programs resolve from the work dir, where workers start. */
	if (cfg->workdir != NULL && chdir(cfg->workdir) == -1) {
		fprintf(stderr, "%s: cannot enter work dir %s: %s\n", file,
		    cfg->workdir, strerror(errno));
		config_free(cfg);
		return 2;
	}
	ok = preflight_run(cfg, PREFLIGHT_BIND, report, NULL) == 0;
	if (ok && dump)
		config_dump(cfg, stdout);
	else if (ok)
		printf("configuration OK\n");
	config_free(cfg);
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "rrtcp: check: stdout: %s\n", strerror(errno));
		return 2;
	}
	return ok ? 0 : 2;
}

int
cli_check(const char *file, const struct config_opts *opts)
{
	return check(file, opts, 0);
}

static void
human_bytes(double b, char *out, size_t n)
{
	const char *unit[] = { "B", "KiB", "MiB", "GiB" };
	int u = 0;

	while (b >= 1024 && u < 3) {
		b /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

static void
human_age(double secs, char *out, size_t n)
{
	if (secs < 120)
		snprintf(out, n, "%.0fs ago", secs);
	else if (secs < 7200)
		snprintf(out, n, "%.0fm ago", secs / 60);
	else if (secs < 172800)
		snprintf(out, n, "%.0fh ago", secs / 3600);
	else
		snprintf(out, n, "%.0fd ago", secs / 86400);
}

static int
print_workers(const char *addr)
{
	char *reply = NULL, mem[32], age[32];
	cJSON *root, *list, *w;
	struct timespec now;
	int rc;

	rc = rpc_call(addr, "informer.Workers", "\"tcp\"", &reply,
	    RPC_TIMEOUT_MS);
	if (rc != 0) {
		fprintf(stderr, "rrtcp: informer.Workers: %s\n",
		    reply ? reply : "no reply");
		free(reply);
		return 1;
	}
	root = cJSON_Parse(reply);
	list = root ? cJSON_GetObjectItemCaseSensitive(root, "workers") : NULL;
	if (!cJSON_IsArray(list)) {
		fprintf(stderr, "rrtcp: informer.Workers: unexpected reply: %s\n",
		    reply);
		cJSON_Delete(root);
		free(reply);
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	printf("Workers of [tcp]:\n");
	printf("%-8s %-16s %8s %11s %7s  %s\n", "PID", "STATUS", "EXECS",
	    "MEMORY", "CPU%", "CREATED");
	cJSON_ArrayForEach(w, list) {
		cJSON *pid = cJSON_GetObjectItemCaseSensitive(w, "pid");
		cJSON *st = cJSON_GetObjectItemCaseSensitive(w, "statusStr");
		cJSON *ex = cJSON_GetObjectItemCaseSensitive(w, "numExecs");
		cJSON *mu = cJSON_GetObjectItemCaseSensitive(w, "memoryUsage");
		cJSON *cpu = cJSON_GetObjectItemCaseSensitive(w, "CPUPercent");
		cJSON *cr = cJSON_GetObjectItemCaseSensitive(w, "created");
		double created = cJSON_IsNumber(cr) ? cr->valuedouble / 1e9 : 0;

		human_bytes(cJSON_IsNumber(mu) ? mu->valuedouble : 0, mem,
		    sizeof(mem));
		human_age((double)now.tv_sec + now.tv_nsec / 1e9 - created, age,
		    sizeof(age));
		printf("%-8.0f %-16s %8.0f %11s %7.2f  %s\n",
		    cJSON_IsNumber(pid) ? pid->valuedouble : 0,
		    cJSON_IsString(st) ? st->valuestring : "?",
		    cJSON_IsNumber(ex) ? ex->valuedouble : 0, mem,
		    cJSON_IsNumber(cpu) ? cpu->valuedouble : 0, age);
	}
	fflush(stdout);
	cJSON_Delete(root);
	free(reply);
	return 0;
}

static int
do_reset(const char *addr)
{
	char *reply = NULL;
	int rc = rpc_call(addr, "resetter.Reset", "\"tcp\"", &reply,
	    RPC_TIMEOUT_MS);

	if (rc == 0 && reply != NULL && strcmp(reply, "true") == 0) {
		printf("tcp: workers reset\n");
		free(reply);
		return 0;
	}
	fprintf(stderr, "rrtcp: reset: %s\n", reply ? reply : "no reply");
	free(reply);
	return 1;
}

static int
do_stop(const struct rr_config *cfg, int force)
{
	char path[4096];
	long pid = 0;
	FILE *fp;
	int64_t waited = 0, limit = cfg->pool.destroy_timeout_ms + 15000;

	snprintf(path, sizeof(path), "%s/.pid", cfg->workdir ? cfg->workdir : ".");
	if ((fp = fopen(path, "r")) == NULL || fscanf(fp, "%ld", &pid) != 1 ||
	    pid <= 1) {
		fprintf(stderr, "rrtcp: stop: no pid in %s (was it started with "
		    "serve -p?)\n", path);
		if (fp)
			fclose(fp);
		return 1;
	}
	fclose(fp);
	if (kill((pid_t)pid, SIGTERM) == -1) {
		fprintf(stderr, "rrtcp: stop: pid %ld: %s\n", pid,
		    strerror(errno));
		return 1;
	}
	/* -f: a second signal makes rrtcp exit at once, killing its workers. */
	if (force) {
		usleep(50000);
		kill((pid_t)pid, SIGTERM);
	}
	while (preflight_pid_running((pid_t)pid) && waited < limit) {
		usleep(50000);
		waited += 50;
	}
	if (preflight_pid_running((pid_t)pid)) {
		fprintf(stderr, "rrtcp: stop: pid %ld still running\n", pid);
		return 1;
	}
	printf("stopped\n");
	return 0;
}

int
cli_config_arg(struct cli_config_args *a, int ch, char *arg)
{
	char **p;

	switch (ch) {
	case 'c':
		a->file = arg;
		return 1;
	case 'w':
		a->workdir = arg;
		return 1;
	case 'o':
		if ((p = realloc(a->overrides, (a->noverrides + 1) *
		    sizeof(*p))) == NULL) {
			fprintf(stderr, "rrtcp: out of memory\n");
			exit(1);
		}
		p[a->noverrides++] = arg;
		a->overrides = p;
		return 1;
	}
	return 0;
}

int
cli_main(enum cli_cmd cmd, int argc, char **argv)
{
	struct cli_config_args ca = { .file = ".rr.yaml" };
	struct config_opts opts;
	const char *file;
	char **overrides;
	struct rr_config *cfg;
	int ch, interactive = 0, force = 0, dump = 0, rc;

	while ((ch = getopt(argc, argv, cmd == CLI_WORKERS ? "ic:w:o:" :
	    cmd == CLI_STOP ? "fc:w:o:" : cmd == CLI_CHECK ? "Tc:w:o:" :
	    "c:w:o:")) != -1) {
		if (cli_config_arg(&ca, ch, optarg))
			continue;
		switch (ch) {
		case 'i':
			interactive = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'T':
			dump = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	file = ca.file;
	overrides = ca.overrides;
	opts.workdir = ca.workdir;
	opts.overrides = ca.overrides;
	opts.noverrides = ca.noverrides;
	if (cmd == CLI_CHECK) {
		rc = check(file, &opts, dump);
		free(overrides);
		return rc;
	}
	if ((cfg = config_load(file, &opts, report, NULL)) == NULL) {
		free(overrides);
		return 2;
	}
	if (cmd == CLI_STOP)
		rc = do_stop(cfg, force);
	else if (cfg->rpc_listen == NULL) {
		fprintf(stderr, "rrtcp: %s: rpc.listen is not configured in %s\n",
		    argv[0], file);
		rc = 1;
	} else if (cmd == CLI_RESET)
		rc = do_reset(cfg->rpc_listen);
	else {
		rc = print_workers(cfg->rpc_listen);
		/* -i: refresh every second until interrupted. */
		while (interactive && rc == 0) {
			sleep(1);
			printf("\033[H\033[2J");
			rc = print_workers(cfg->rpc_listen);
		}
	}
	config_free(cfg);
	free(overrides);
	return rc;
}
