/*
 * rrtcp.c - main: the command line, signals, startup and shutdown.
 *
 * The main thread runs the control loop: signals (signalfd), the worker
 * pool's spawns, handshakes, stderr and exits (pool.c).  Connections live on
 * the reactor threads (conn.c), one per online CPU unless tcp.reactors says
 * otherwise.  The service manager hears about startup, reloads and
 * shutdown through notify.c; its watchdog is pinged from the control loop,
 * so a stuck control loop stops the pings.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config.h"
#include "ev.h"
#include "health.h"
#include "log.h"
#include "mem.h"
#include "net.h"
#include "notify.h"
#include "pool.h"
#include "preflight.h"
#include "reactor.h"
#include "relay.h"
#include "rpc.h"
#include "sig.h"
#include "status.h"
#include "version.h"
#include "cli.h"

#ifndef RRTCP_VERSION
#define RRTCP_VERSION	"0.1.0"
#endif

#define MAX_ADDRS	8
#define PIDFILE		".pid"
#define STATUS_EVERY_MS	5000	/* STATUS= for the service manager */



static struct {
	struct rr_config	*cfg;
	struct ev		*control;
	struct rr_reactor	 reactors[RR_MAX_REACTORS];
	int			 nreactors;
	struct ev_io		 sig_io;
	int			 stopping;	/* signals seen */
	int			 exit_code;
	int64_t			 stop_deadline;
	struct ev_timer		 stop_timer;
	struct ev_timer		 drain_timer;	/* tcp.drain_delay running */
	struct ev_timer		 status_timer;	/* STATUS= every few seconds */
	struct ev_timer		 watchdog_timer; /* WATCHDOG=1 */
	int64_t			 watchdog_ms;	/* half of WATCHDOG_USEC */
	int			 workers_stopping;
	int64_t			 started_ms;
	int			 pidfile;	/* -p: .pid in the work dir */
	int			 running;	/* reactor threads started */
	struct config_opts	 opts;		/* for SIGHUP: the same -c, -w, -o */
	char			*file;		/* absolute path of -c */
	struct rr_config	**old_cfgs;	/* replaced, in use until every
					 * reactor has taken the new one */
	size_t			 nold;
	struct ev_timer		 old_cfg_timer;
} S;


static void
on_config_report(void *arg, enum config_level level, const char *text)
{
	if (level == CONFIG_ERROR)
		fprintf(stderr, "%s\n", text);
	else if (level == CONFIG_WARN)
		fprintf(stderr, "%s (warning)\n", text);
	else {
		char q[LOG_QMAX];
		log_info("config", "detail=%s", log_q(q, sizeof(q), text,
		    strlen(text)));
	}
}

/* --- the service manager (notify.c) ----------------------------------------- */

static const char *
state_name(void)
{
	if (!S.stopping)
		return S.running ? "Serving" : "Starting";
	return ev_timer_armed(&S.drain_timer) ? "Draining, still accepting" :
	    "Stopping";
}

/* Sends what (a "KEY=1" line, or NULL) with a STATUS= line that
 * systemctl status shows. */
static void
tell_manager(const char *what)
{
	if (!notify_enabled())
		return;
	notify_sendf("%s%sSTATUS=%s: connections=%llu workers=%d idle=%d",
	    what != NULL ? what : "", what != NULL ? "\n" : "", state_name(),
	    (unsigned long long)atomic_load(&conn_count), pool_size(),
	    pool_idle_count());
}

static void
on_status_timer(struct ev *loop, struct ev_timer *t)
{
	tell_manager(NULL);
	ev_timer_arm(loop, t, STATUS_EVERY_MS);
}

/* From the control loop, on purpose: if it hangs, the pings stop and the
 * manager restarts us (WatchdogSec=). */
static void
on_watchdog_timer(struct ev *loop, struct ev_timer *t)
{
	notify_send("WATCHDOG=1");
	ev_timer_arm(loop, t, S.watchdog_ms);
}

static void
start_notify_timers(void)
{
	uint64_t wd = notify_watchdog_usec();

	ev_timer_init(&S.drain_timer, NULL, NULL);
	if (!notify_enabled())
		return;
	ev_timer_init(&S.status_timer, on_status_timer, NULL);
	ev_timer_arm(S.control, &S.status_timer, STATUS_EVERY_MS);
	if (wd == 0)
		return;
	S.watchdog_ms = (int64_t)(wd / 2000);
	if (S.watchdog_ms < 1)
		S.watchdog_ms = 1;
	ev_timer_init(&S.watchdog_timer, on_watchdog_timer, NULL);
	ev_timer_arm(S.control, &S.watchdog_timer, 0);
	log_info("watchdog", "usec=%llu ping_ms=%lld", (unsigned long long)wd,
	    (long long)S.watchdog_ms);
}

/* --- shutdown -------------------------------------------------------------- */

static void
workers_stopped(void)
{
	log_info("stopped", "code=%d", S.exit_code);
	ev_stop(S.control);
}

static int
reactors_drained(void)
{
	int n = 0;

	for (int i = 0; i < S.nreactors; i++)
		n += reactor_drained(&S.reactors[i]);
	return n;
}

static void
on_stop_timer(struct ev *loop, struct ev_timer *t)
{
	int drained = reactors_drained();

	if (S.workers_stopping)
		return;
	if (!S.running)
		drained = S.nreactors;	/* stopped before ready: no client yet */
	if (drained < S.nreactors && ev_now(loop) < S.stop_deadline) {
		ev_timer_arm(loop, t, 20);
		return;
	}
	if (drained < S.nreactors) {
		uint64_t left = atomic_load(&conn_count);
		log_warn("destroy_timeout reached, dropping connections",
		    "connections=%llu", (unsigned long long)left);
	}
	if (S.running) {
		for (int i = 0; i < S.nreactors; i++)
			reactor_stop(&S.reactors[i]);
		for (int i = 0; i < S.nreactors; i++)
			reactor_join(&S.reactors[i]);
	}
	S.nreactors = 0;
	S.workers_stopping = 1;
	/* Stragglers are killed once destroy_timeout is over. */
	{
		int64_t left = S.stop_deadline - ev_now(loop);
		pool_stop_all(left > 1000 ? left : 1000, workers_stopped);
	}
}

/* Stops accepting; destroy_timeout counts from here. */
static void
start_drain(void)
{
	S.stop_deadline = ev_now(S.control) + S.cfg->pool.destroy_timeout_ms;
	for (int i = 0; i < S.nreactors; i++)
		reactor_drain(&S.reactors[i]);
	ev_timer_init(&S.stop_timer, on_stop_timer, NULL);
	ev_timer_arm(S.control, &S.stop_timer, 0);
}

static void
on_drain_delay(struct ev *loop, struct ev_timer *t)
{
	log_info("draining", "connections=%llu",
	    (unsigned long long)atomic_load(&conn_count));
	start_drain();
	tell_manager(NULL);
}

/*
 * Readiness goes first: health says draining (and the manager hears
 * STOPPING=1) while rrtcp accepts and serves as before for tcp.drain_delay,
 * so a balancer stops sending new clients before the listeners close.
 * Before ready nothing listens for clients, so there is nothing to wait for.
 */
static void
begin_shutdown(const char *signame)
{
	int64_t delay = S.running ? S.cfg->drain_delay_ms : 0;

	log_info("stopping", "signal=%s connections=%llu drain_delay_ms=%lld",
	    signame, (unsigned long long)atomic_load(&conn_count),
	    (long long)delay);
	health_set_draining(1);
	if (delay > 0) {
		ev_timer_init(&S.drain_timer, on_drain_delay, NULL);
		ev_timer_arm(S.control, &S.drain_timer, delay);
	} else
		start_drain();
	tell_manager("STOPPING=1");
}

/* --- SIGHUP: reload ---------------------------------------------------------- */

static void
on_reload_report(void *arg, enum config_level level, const char *text)
{
	char q[LOG_QMAX];

	log_emit(level == CONFIG_ERROR ? LOG_ERROR : level == CONFIG_WARN ?
	    LOG_WARN : LOG_INFO, "config", "detail=%s",
	    log_q(q, sizeof(q), text, strlen(text)));
}

/* Logs each preflight finding, and keeps the first error for the line
 * that refuses the reload. */
struct reload_check {
	char	first[512];	/* the first error, "" if none */
};

static void
on_reload_check(void *arg, enum config_level level, const char *text)
{
	struct reload_check *rc = arg;

	on_reload_report(NULL, level, text);
	if (level == CONFIG_ERROR && rc->first[0] == '\0')
		snprintf(rc->first, sizeof(rc->first), "%s", text);
}

static int
servers_differ(const struct rr_config *a, const struct rr_config *b)
{
	if (a->nservers != b->nservers || a->reactors != b->reactors)
		return 1;
	for (size_t i = 0; i < a->nservers; i++) {
		const struct rr_server_conf *x = &a->servers[i], *y = &b->servers[i];
		if (strcmp(x->name, y->name) != 0 || strcmp(x->addr, y->addr) != 0 ||
		    x->delim_len != y->delim_len ||
		    memcmp(x->delim, y->delim, x->delim_len) != 0 ||
		    x->max_message_size != y->max_message_size)
			return 1;
	}
	return 0;
}

/* Frees the replaced configs once no reactor uses them any more. */
static void
on_old_cfg_timer(struct ev *loop, struct ev_timer *t)
{
	size_t keep = 0;

	for (size_t i = 0; i < S.nold; i++) {
		int used = 0;

		for (int r = 0; r < S.nreactors && S.running; r++)
			if (reactor_config_seen(&S.reactors[r]) == S.old_cfgs[i])
				used = 1;
		if (used)
			S.old_cfgs[keep++] = S.old_cfgs[i];
		else
			config_free(S.old_cfgs[i]);
	}
	S.nold = keep;
	if (S.nold > 0)
		ev_timer_arm(loop, t, 100);
}

/*
 * Validated with the same code as startup, then checked as rrtcp check
 * does (preflight.c; no bind test: the servers cannot change by a reload,
 * and they are listening already).  On error the old config keeps serving.
 * Pool settings and the worker command take effect through a reset;
 * listeners and per-connection limits stay as they are until restart.
 */
static void
reload_config(void)
{
	struct rr_config *cfg;
	struct reload_check check = { "" };
	enum log_level lvl = LOG_INFO;
	char err[256], q[LOG_QMAX];
	int nerr;

	if (S.stopping)
		return;
	if ((cfg = config_load(S.file, &S.opts, on_reload_report, NULL)) ==
	    NULL) {
		log_error("reload failed, keeping the running configuration",
		    "file=%s", S.file);
		return;
	}
	/* Our cwd is the work dir: relative programs resolve as workers'. */
	if ((nerr = preflight_run(cfg, 0, on_reload_check, &check)) > 0) {
		log_error("reload refused, keeping the running configuration",
		    "file=%s errors=%d reason=%s", S.file, nerr,
		    log_q(q, sizeof(q), check.first, strlen(check.first)));
		config_free(cfg);
		return;
	}
	if (servers_differ(S.cfg, cfg)) {
		/* Listeners stay; connections keep pointing at the old
		 * server entries, so the new config cannot replace them. */
		log_warn("tcp.servers or tcp.reactors changed; restart rrtcp to "
		    "apply them (nothing else was reloaded)", "file=%s", S.file);
		config_free(cfg);
		return;
	}
	if ((S.cfg->rpc_listen == NULL) != (cfg->rpc_listen == NULL) ||
	    (cfg->rpc_listen != NULL &&
	    strcmp(S.cfg->rpc_listen, cfg->rpc_listen) != 0)) {
		/* The socket does not move; workers must keep the address
		 * that answers. */
		log_warn("rpc.listen changed; restart rrtcp to apply it",
		    "file=%s", S.file);
		free(cfg->rpc_listen);
		cfg->rpc_listen = S.cfg->rpc_listen ?
		    strdup(S.cfg->rpc_listen) : NULL;
	}
	if (cfg->log_output != NULL && (S.cfg->log_output == NULL ||
	    strcmp(cfg->log_output, S.cfg->log_output) != 0) &&
	    log_open(cfg->log_output) == -1)
		log_error("cannot open the new logs.output, keeping the old one",
		    "path=%s error=%s", cfg->log_output, strerror(errno));
	if (cfg->log_level != NULL && log_parse_level(cfg->log_level, &lvl) == 0)
		log_setup(lvl, cfg->log_encoding != NULL &&
		    strcmp(cfg->log_encoding, "json") == 0);
	if (pool_reconfigure(cfg, err, sizeof(err)) == -1) {
		log_error("reload failed", "reason=\"%s\"", err);
		config_free(cfg);
		return;
	}
	{
		struct rr_config **p = realloc(S.old_cfgs,
		    (S.nold + 1) * sizeof(*p));

		if (p == NULL) {
			log_error("reload failed", "reason=\"out of memory\"");
			config_free(cfg);
			return;
		}
		S.old_cfgs = p;
		S.old_cfgs[S.nold++] = S.cfg;
	}
	S.cfg = cfg;
	mem_set_limit(cfg->max_buffer_memory);
	for (int i = 0; i < S.nreactors; i++)
		reactor_set_config(&S.reactors[i], cfg);
	rpc_configure(cfg);
	ev_timer_arm(S.control, &S.old_cfg_timer, 10);
	log_info("configuration reloaded", "file=%s workers=%u", S.file,
	    cfg->pool.num_workers);
}

/* --- RPC methods (rrtcp-protocol(7) 5.3) ----------------------------------------- */

static const char *const plugins[] = { "tcp" };

static int
want_plugin(const struct rpc_arg *arg)
{
	return arg->is_string && strcmp(arg->s, "tcp") == 0;
}

static int
m_tcp_close(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	if (!arg->is_string) {
		snprintf(err, errlen, "tcp.Close: the argument is a uuid string");
		return -1;
	}
	/* RR replies true whether or not the uuid is known (4.8). */
	if (arg->slen == NET_UUIDLEN)
		for (int i = 0; i < S.nreactors; i++)
			reactor_close_uuid(&S.reactors[i], arg->s);
	out->type = RV_BOOL;
	out->b = 1;
	return 0;
}

static int
m_plugin_list(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	out->type = RV_STRINGS;
	out->strs = plugins;
	out->nstrs = 1;
	return 0;
}

static int
m_informer_workers(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	static struct rpc_worker_state states[1024];

	out->type = RV_WORKERS;
	out->workers = states;
	/* An unknown plugin gets an empty list, never null (Q17). */
	out->nworkers = want_plugin(arg) ? pool_snapshot(states, 1024) : 0;
	return 0;
}

static int
m_informer_jobs(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	out->type = RV_NULL;
	return 0;
}

static int
m_add_remove(const struct rpc_arg *arg, struct rpc_value *out, char *err,
    size_t errlen, int add)
{
	if (!want_plugin(arg)) {
		snprintf(err, errlen, "plugin does not support workers "
		    "management: %s", arg->is_string ? arg->s : "");
		return -1;
	}
	if (!add)
		pool_remove_worker();
	else if (pool_add_worker(err, errlen) == -1)
		return -1;	/* the caller gets the reason */
	out->type = RV_BOOL;
	out->b = 0;	/* what RR replies */
	return 0;
}

static int
m_add_worker(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	return m_add_remove(arg, out, err, errlen, 1);
}

static int
m_remove_worker(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	return m_add_remove(arg, out, err, errlen, 0);
}

static int
m_reset(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	if (!want_plugin(arg)) {
		snprintf(err, errlen, "no such plugin: %s",
		    arg->is_string ? arg->s : "");
		return -1;
	}
	/* Asynchronous: a worker may call this from inside an event (Q25). */
	pool_reset("resetter.Reset");
	out->type = RV_BOOL;
	out->b = 1;
	return 0;
}

static int
m_version(void *ctx, const struct rpc_arg *arg, struct rpc_value *out,
    char *err, size_t errlen)
{
	out->type = RV_STRING;
	out->s = RRTCP_VERSION;
	return 0;
}

static const struct rpc_method rpc_methods[] = {
	{ "tcp.Close", m_tcp_close },
	{ "informer.List", m_plugin_list },
	{ "informer.Workers", m_informer_workers },
	{ "informer.Jobs", m_informer_jobs },
	{ "informer.AddWorker", m_add_worker },
	{ "informer.RemoveWorker", m_remove_worker },
	{ "resetter.List", m_plugin_list },
	{ "resetter.Reset", m_reset },
	{ "rpc.Version", m_version },
};

static void
start_rpc(void)
{
	char err[256];

	if (S.cfg->rpc_listen == NULL)
		return;
	if (!rpc_addr_is_local(S.cfg->rpc_listen))
		log_warn("rpc.listen is not a loopback or unix address; RPC has "
		    "no authentication", "addr=%s", S.cfg->rpc_listen);
	rpc_configure(S.cfg);
	if (rpc_serve(S.control, S.cfg->rpc_listen, rpc_methods,
	    sizeof(rpc_methods) / sizeof(rpc_methods[0]), NULL, err,
	    sizeof(err)) == -1) {
		log_error("startup failed", "reason=\"%s\"", err);
		exit(1);
	}
}

static void
on_signal(struct ev *loop, struct ev_io *io, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(io->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		const char *name = sig_abbrev((int)si.ssi_signo);

		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			if (S.stopping++ > 0) {
				/* A second signal: leave at once. */
				log_warn("second signal, exiting now",
				    "signal=%s", name);
				pool_kill_all();
				if (S.pidfile)
					unlink(PIDFILE);
				_exit(1);
			}
			begin_shutdown(name);
			break;
		case SIGCHLD:
			pool_reap();
			break;
		case SIGHUP:
			if (S.stopping)
				break;
			/* Applied or refused, the reload is over when
			 * reload_config() returns: READY=1 either way. */
			notify_sendf("RELOADING=1\nMONOTONIC_USEC=%llu\n"
			    "STATUS=Reloading the configuration",
			    (unsigned long long)notify_monotonic_usec());
			reload_config();
			tell_manager("READY=1");
			break;
		case SIGUSR2:
			if (!S.stopping)
				pool_reset("SIGUSR2");
			break;
		case SIGUSR1:
			if (log_reopen() == -1)
				log_error("cannot reopen the log file",
				    "error=%s", strerror(errno));
			else
				log_info("log file reopened", "signal=USR1");
			break;
		default:
			log_info("signal ignored", "signal=%s", name);
			break;
		}
	}
}

/* --- startup --------------------------------------------------------------- */

static void
on_pool_ready(int ok, const char *reason)
{
	char q[LOG_QMAX];

	if (S.stopping)
		return;		/* a signal came first; shutdown goes on */
	if (!ok) {
		log_error("startup failed", "reason=%s",
		    log_q(q, sizeof(q), reason, strlen(reason)));
		pool_kill_all();
		exit(1);
	}
	for (int i = 0; i < S.nreactors; i++)
		if (reactor_start(&S.reactors[i]) == -1) {
			log_error("startup failed", "reason=\"cannot start a "
			    "reactor thread\"");
			pool_kill_all();
			exit(1);
		}
	S.running = 1;
	health_set_serving(1);
	log_info("ready", "servers=%zu workers=%u reactors=%d ms=%lld",
	    S.cfg->nservers, S.cfg->pool.num_workers, S.nreactors,
	    (long long)(ev_clock_ms() - S.started_ms));
	tell_manager("READY=1");
}

static void
pick_bound_port(struct rr_server_conf *srv, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char port[16];
	unsigned p = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET)
		p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	snprintf(port, sizeof(port), "%u", p);
	free(srv->port);
	srv->port = strdup(port);
}

/* Startup stops at a listener it cannot open, naming the server's line as
 * rrtcp check does. */
static void __attribute__((noreturn))
listener_failed(const struct rr_config *cfg, const struct rr_server_conf *srv,
    const char *why)
{
	char text[768], q[LOG_QMAX];

	snprintf(text, sizeof(text), "%s:%d: server \"%s\": %s", cfg->file,
	    srv->line, srv->name, why);
	log_error("startup failed", "server=%s reason=%s", srv->name,
	    log_q(q, sizeof(q), text, strlen(text)));
	exit(1);
}

static void
open_listeners(void)
{
	struct rr_config *cfg = S.cfg;

	for (size_t i = 0; i < cfg->nservers; i++) {
		struct rr_server_conf *srv = &cfg->servers[i];
		int nr = srv->is_unix ? 1 : S.nreactors;

		for (int r = 0; r < nr; r++) {
			int fds[MAX_ADDRS], n;
			char err[256];

			/* Port 0: every reactor's copy must share the port the
			 * kernel picked for the first one. */
			if (r == 1 && !srv->is_unix && strcmp(srv->port, "0") == 0)
				pick_bound_port(srv, S.reactors[0].r_listeners[
				    S.reactors[0].r_nlisteners - 1].l_io.fd);

			/* Q19: refuse an address someone already listens on,
			 * then bind one SO_REUSEPORT copy per reactor. */
			n = net_listen(srv, !srv->is_unix, r == 0, fds, MAX_ADDRS,
			    err, sizeof(err));
			if (n <= 0)
				listener_failed(cfg, srv, n == 0 ? "no address" :
				    err);
			for (int k = 0; k < n; k++) {
				if (r == 0) {
					struct sockaddr_storage ss;
					socklen_t len = sizeof(ss);
					char addr[NET_ADDRSTRLEN];

					getsockname(fds[k], (struct sockaddr *)&ss,
					    &len);
					if (srv->is_unix)
						snprintf(addr, sizeof(addr), "%s",
						    srv->path);
					else
						net_format_addr((struct sockaddr *)
						    &ss, len, addr, sizeof(addr));
					log_info("listening", "server=%s addr=%s",
					    srv->name, addr);
				}
				reactor_add_listener(&S.reactors[r], i, fds[k]);
			}
		}
	}
}

/* As rr serve -p: ".pid" in the work dir, holding our pid. */
static void
write_pidfile(void)
{
	FILE *fp = fopen(PIDFILE, "w");

	if (fp == NULL || fprintf(fp, "%d\n", (int)getpid()) < 0 ||
	    fclose(fp) == EOF)
		fatalx(1, "cannot write %s/%s: %s", S.cfg->workdir, PIDFILE,
		    strerror(errno));
}

static int
cmd_serve(int argc, char **argv)
{
	struct cli_config_args ca = { .file = ".rr.yaml" };
	const char *file, *workdir;
	char **overrides;
	size_t noverrides;
	struct config_opts opts;
	enum log_level lvl = LOG_INFO;
	sigset_t mask;
	char err[256];
	int ch, sfd, check_only = 0;
	char *abs_workdir = NULL;
	unsigned nreactors;

	S.started_ms = ev_clock_ms();
	while ((ch = getopt(argc, argv, "ptc:w:o:")) != -1) {
		if (cli_config_arg(&ca, ch, optarg))
			continue;
		switch (ch) {
		case 'p':
			S.pidfile = 1;
			break;
		case 't':
			check_only = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	file = ca.file;
	workdir = ca.workdir;
	overrides = ca.overrides;
	noverrides = ca.noverrides;
	/* Absolute, so a SIGHUP reload after chdir finds the same dir. */
	if (workdir != NULL && (abs_workdir = realpath(workdir, NULL)) != NULL)
		workdir = abs_workdir;
	opts.workdir = workdir;
	opts.overrides = overrides;
	opts.noverrides = noverrides;
	if (check_only)
		return cli_check(file, &opts);
	/* Before anything is spawned: workers must not inherit the
	 * variables (preflight runs programs too). */
	notify_init();
	if ((S.cfg = config_load(file, &opts, on_config_report, NULL)) == NULL)
		exit(2);
	/* SIGHUP reopens the file after we entered the work dir. */
	S.file = realpath(file, NULL);
	if (S.file == NULL)
		S.file = strdup(file);
	S.opts = opts;		/* overrides stay allocated for SIGHUP */
	if (S.cfg->log_level != NULL &&
	    log_parse_level(S.cfg->log_level, &lvl) == -1)
		lvl = LOG_INFO;
	log_setup(lvl, S.cfg->log_encoding != NULL &&
	    strcmp(S.cfg->log_encoding, "json") == 0);
	if (S.cfg->log_output != NULL && log_open(S.cfg->log_output) == -1)
		fatalx(1, "cannot open log output %s: %s", S.cfg->log_output,
		    strerror(errno));
	if (S.cfg->workdir != NULL && chdir(S.cfg->workdir) == -1)
		fatalx(1, "cannot enter work dir %s: %s", S.cfg->workdir,
		    strerror(errno));

	/* Signals are read from a signalfd in the control loop; handlers never
	 * run.  The mask is inherited by reactor threads; workers reset it. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatalx(1, "signalfd: %s", strerror(errno));
	if ((S.control = ev_new(256, NULL)) == NULL)
		fatalx(1, "cannot create the control loop");
	ev_add(S.control, &S.sig_io, sfd, EV_READ, on_signal, NULL);
	start_notify_timers();

	/* config.c refuses more than RR_MAX_REACTORS. */
	nreactors = S.cfg->reactors ? S.cfg->reactors : 1;
	S.nreactors = (int)nreactors;
	ev_timer_init(&S.old_cfg_timer, on_old_cfg_timer, NULL);
	mem_set_limit(S.cfg->max_buffer_memory);
	for (int i = 0; i < S.nreactors; i++)
		if (reactor_init(&S.reactors[i], i, S.cfg) == -1)
			fatalx(1, "cannot create reactor %d", i);
	/* One descriptor kept back to refuse a client cleanly when the
	 * process runs out of them (net_accept). */
	if (net_reserve_spare() == -1)
		log_warn("cannot keep a spare descriptor", "error=\"%s\"",
		    strerror(errno));
	open_listeners();
	start_rpc();
	if (status_start(S.control, S.cfg, err, sizeof(err)) == -1)
		fatalx(1, "%s", err);
	if (pool_start(S.control, S.cfg, relay_on_worker_io, on_pool_ready,
	    err, sizeof(err)) == -1) {
		char q[LOG_QMAX];
		log_error("startup failed", "reason=%s",
		    log_q(q, sizeof(q), err, strlen(err)));
		pool_kill_all();
		exit(1);
	}
	if (S.pidfile)
		write_pidfile();
	tell_manager(NULL);
	ev_run(S.control);
	status_stop();
	if (S.pidfile)
		unlink(PIDFILE);
	rpc_close();
	notify_close();
	config_free(S.cfg);
	for (size_t i = 0; i < S.nold; i++)
		config_free(S.old_cfgs[i]);
	free(S.old_cfgs);
	free(S.file);
	free(abs_workdir);
	free(overrides);
	ev_free(S.control);
	return S.exit_code;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "-v") == 0 ||
	    strcmp(argv[1], "--version") == 0)) {
		printf("rrtcp version %s (epoll, goridge v1; %s)\n", RRTCP_VERSION,
		    version_build_info());
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return cli_main(CLI_CHECK, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "workers") == 0)
		return cli_main(CLI_WORKERS, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "reset") == 0)
		return cli_main(CLI_RESET, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "stop") == 0)
		return cli_main(CLI_STOP, argc - 1, argv + 1);
	usage();
	return 2;
}
