/*
 * preflight.c - the checks rrtcp check and a SIGHUP reload share: what
 * serve will try, tried without serving.  Loading and validating the YAML
 * is config.c's; sockets are net.c's (net_probe).  This file only decides
 * what to try and words the findings as "file:line: message".
 *
 * Runs on the main thread only; it blocks on name resolution.
 */
#include "preflight.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

#define PIDFILE		".pid"	/* serve -p writes it in the work dir */

static void
diag(config_report_fn *report, void *arg, enum config_level level,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
diag(config_report_fn *report, void *arg, enum config_level level,
    const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	report(arg, level, text);
}

/* Is the worker command's program there and executable? */
static int
command_found(const char *prog)
{
	const char *path;
	char buf[4096];

	if (strchr(prog, '/') != NULL)
		return access(prog, X_OK) == 0;
	if ((path = getenv("PATH")) == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (n > 0 && access(buf, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/* kill(pid, 0) succeeds on a zombie; an exited process is not running. */
int
preflight_pid_running(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *fp;
	size_t n;

	if (kill(pid, 0) == -1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return !(p != NULL && p[1] == ' ' && p[2] == 'Z');
}

/* The first line of /proc/<pid>/comm ("self" for pid 0), or "". */
static void
comm_of(pid_t pid, char *out, size_t len)
{
	char path[64];
	FILE *fp;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/comm");
	else
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	out[0] = '\0';
	if ((fp = fopen(path, "re")) == NULL)
		return;
	if (fgets(out, (int)len, fp) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(fp);
}

/*
 * The pid of the rrtcp serving this work dir, or 0: the .pid that serve -p
 * writes names a live process running the same program as we do (a pid
 * reused by something else does not count).
 */
static pid_t
running_instance(const struct rr_config *cfg)
{
	char path[4096], ours[64], theirs[64];
	long pid = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", cfg->workdir ? cfg->workdir :
	    ".", PIDFILE);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1 || pid <= 1 || pid == getpid())
		pid = 0;
	fclose(fp);
	if (pid == 0 || !preflight_pid_running((pid_t)pid))
		return 0;
	comm_of(0, ours, sizeof(ours));
	comm_of((pid_t)pid, theirs, sizeof(theirs));
	return strcmp(ours, theirs) == 0 ? (pid_t)pid : 0;
}

int
preflight_run(const struct rr_config *cfg, int flags,
    config_report_fn *report, void *arg)
{
	int errors = 0;
	pid_t own = -1;		/* not looked up yet */

	if (!command_found(cfg->pool.command[0])) {
		diag(report, arg, CONFIG_ERROR, "%s: worker command not found: "
		    "%s", cfg->file, cfg->pool.command[0]);
		errors++;
	}
	for (size_t i = 0; i < cfg->nservers; i++) {
		const struct rr_server_conf *srv = &cfg->servers[i];
		char err[512];
		int rc;

		rc = net_probe(srv, flags & PREFLIGHT_BIND, err, sizeof(err));
		if (rc == NET_PROBE_OK)
			continue;
		if (rc == NET_PROBE_INUSE && own == -1)
			own = running_instance(cfg);
		if (rc == NET_PROBE_INUSE && own > 0) {
			diag(report, arg, CONFIG_WARN, "%s:%d: server \"%s\": %s, "
			    "presumably by the running rrtcp (pid %d in %s)",
			    cfg->file, srv->line, srv->name, err, (int)own,
			    PIDFILE);
			continue;
		}
		diag(report, arg, CONFIG_ERROR, "%s:%d: server \"%s\": %s%s",
		    cfg->file, srv->line, srv->name, err,
		    rc == NET_PROBE_INUSE ? " (by another process)" : "");
		errors++;
	}
	return errors;
}
