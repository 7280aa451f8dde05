/*
 * test_config.c - config.c: .rr.yaml parsing, defaults, validation and the
 * exact text of its diagnostics.
 *
 * Each test writes its fixture as "rrtcp.yaml" into a fresh temporary
 * directory and changes into it, so diagnostics read "rrtcp.yaml:N: ...".
 * Criterion runs every test in its own process, so chdir() and setenv()
 * stay local to the test.
 */
#include <criterion/criterion.h>

#include "config.h"

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB	(1024 * 1024)

struct capture {
	char	*buf;		/* one "E|W|I text\n" line per diagnostic */
	size_t	 len;
	int	 n[3];		/* per config_level */
};

static char		 tmpdir[PATH_MAX];
static struct capture	 cap;

static void
capture(void *arg, enum config_level level, const char *text)
{
	struct capture *c = arg;
	const char tag = level == CONFIG_ERROR ? 'E' :
	    level == CONFIG_WARN ? 'W' : 'I';
	size_t n = strlen(text);

	c->buf = realloc(c->buf, c->len + n + 4);
	cr_assert_not_null(c->buf);
	c->len += (size_t)sprintf(c->buf + c->len, "%c %s\n", tag, text);
	c->n[level]++;
}

static void
setup(void)
{
	char tmpl[] = "/tmp/test_config.XXXXXX";

	cr_assert_not_null(mkdtemp(tmpl));
	strcpy(tmpdir, tmpl);
	cr_assert_eq(chdir(tmpdir), 0);
	memset(&cap, 0, sizeof(cap));
	cap.buf = strdup("");
}

static void
teardown(void)
{
	DIR *d;
	struct dirent *de;
	char p[PATH_MAX + 256];

	if ((d = opendir(tmpdir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	if (chdir("/") == 0)
		rmdir(tmpdir);
	free(cap.buf);
}

TestSuite(config, .init = setup, .fini = teardown);

static void
write_file(const char *name, const char *text)
{
	FILE *fp = fopen(name, "w");

	cr_assert_not_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Loads text as rrtcp.yaml with the given overrides. */
static struct rr_config *
load_o(const char *text, char *const *ovr, size_t novr)
{
	struct config_opts o = { NULL, ovr, novr };

	write_file("rrtcp.yaml", text);
	return config_load("rrtcp.yaml", &o, capture, &cap);
}

static struct rr_config *
load(const char *text)
{
	return load_o(text, NULL, 0);
}

/* Is this exact line ("E rrtcp.yaml:3: ...") among the diagnostics? */
static int
has(const char *fmt, ...)
{
	char line[1024];
	const char *p;
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	for (p = cap.buf; (p = strstr(p, line)) != NULL; p++)
		if ((p == cap.buf || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

#define HAS(...)	cr_assert(has(__VA_ARGS__), "missing diagnostic; " \
			    "got:\n%s", cap.buf)

/* A valid config around a tcp.servers entry or other tcp keys. */
#define HEAD \
	"version: \"3\"\n" \
	"server:\n" \
	"  command: php worker.php\n"
#define SMTP \
	"tcp:\n" \
	"  servers:\n" \
	"    smtp:\n" \
	"      addr: 127.0.0.1:2525\n"

static long
cpus(void)
{
	return sysconf(_SC_NPROCESSORS_ONLN);
}

/* ------------------------------------------------------------------------
 * valid configurations
 */

Test(config, minimal_config_gets_all_defaults)
{
	struct rr_config *c = load(HEAD SMTP);
	char cwd[PATH_MAX];

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(cap.n[CONFIG_ERROR] + cap.n[CONFIG_WARN] +
	    cap.n[CONFIG_INFO], 0, "%s", cap.buf);
	cr_assert_str_eq(c->file, "rrtcp.yaml");
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_str_eq(c->workdir, cwd);
	cr_assert_str_eq(c->version, "3");
	cr_assert_not_null(c->env);
	cr_assert_null(c->env[0]);
	cr_assert_null(c->rpc_listen);

	cr_assert_eq(c->nservers, 1);
	cr_assert_str_eq(c->servers[0].name, "smtp");
	cr_assert_str_eq(c->servers[0].addr, "127.0.0.1:2525");
	cr_assert_eq(c->servers[0].is_unix, 0);
	cr_assert_str_eq(c->servers[0].host, "127.0.0.1");
	cr_assert_str_eq(c->servers[0].port, "2525");
	cr_assert_null(c->servers[0].path);
	cr_assert_eq(c->servers[0].delim_len, 2);
	cr_assert_eq(memcmp(c->servers[0].delim, "\r\n", 2), 0);
	cr_assert_eq(c->servers[0].max_message_size, 1 * MIB);
	cr_assert_eq(c->servers[0].line, 6);

	cr_assert_eq(c->read_buf_size, 1 * MIB);
	cr_assert_eq(c->reactors, (unsigned)cpus());
	cr_assert_eq(c->max_connections, 100000);
	cr_assert_eq(c->max_frame_size, 64 * MIB);
	cr_assert_eq(c->close_timeout_ms, 10000);

	cr_assert_str_eq(c->pool.command[0], "php");
	cr_assert_str_eq(c->pool.command[1], "worker.php");
	cr_assert_null(c->pool.command[2]);
	cr_assert_eq(c->pool.num_workers, (unsigned)cpus());
	cr_assert_eq(c->pool.max_jobs, 0);
	cr_assert_eq(c->pool.max_queue_size, 0);
	cr_assert_eq(c->pool.allocate_timeout_ms, 60000);
	cr_assert_eq(c->pool.destroy_timeout_ms, 60000);
	cr_assert_eq(c->pool.reset_timeout_ms, 60000);
	cr_assert_eq(c->pool.stream_timeout_ms, 60000);
	cr_assert_eq(c->pool.debug, 0);
	cr_assert_eq(c->pool.supervisor.enabled, 0);
	cr_assert_eq(c->pool.supervisor.watch_tick_ms, 5000);
	cr_assert_eq(c->pool.dynamic.enabled, 0);
	cr_assert_eq(c->pool.dynamic.max_workers, 10);
	cr_assert_eq(c->pool.dynamic.spawn_rate, 5);
	cr_assert_eq(c->pool.dynamic.idle_timeout_ms, 60000);

	cr_assert_str_eq(c->log_level, "info");
	cr_assert_str_eq(c->log_encoding, "console");
	cr_assert_str_eq(c->log_output, "stderr");
	config_free(c);
}

static const char full_config[] =
	"version: '3'\n"
	"rpc:\n"
	"  listen: unix:///run/rr-rpc.sock\n"
	"server:\n"
	"  command: php server.php\n"
	"  relay: pipes\n"
	"  relay_timeout: 60s\n"
	"  env:\n"
	"    APP_ENV: prod\n"
	"logs:\n"
	"  mode: production\n"
	"  level: Debug\n"
	"  encoding: json\n"
	"  output: /var/log/rrtcp.log\n"
	"tcp:\n"
	"  servers:\n"
	"    smtp:\n"
	"      addr: tcp://0.0.0.0:25\n"
	"      delimiter: \"\\n\"\n"
	"      max_message_size: 64KiB\n"
	"  read_buf_size: 4\n"
	"  reactors: 3\n"
	"  max_connections: 5000\n"
	"  max_frame_size: 8MiB\n"
	"  close_timeout: 2s\n"
	"  pool:\n"
	"    command: [php, -d, memory_limit=1G, tcp.php]\n"
	"    num_workers: 7\n"
	"    max_jobs: 1000\n"
	"    max_queue_size: 50\n"
	"    allocate_timeout: 30s\n"
	"    destroy_timeout: 1m30s\n"
	"    reset_timeout: 500ms\n"
	"    stream_timeout: 1h\n"
	"    debug: true\n"
	"    supervisor:\n"
	"      watch_tick: 1s\n"
	"      ttl: 5m\n"
	"      idle_ttl: 10s\n"
	"      max_worker_memory: 128\n"
	"      exec_ttl: 2.5s\n"
	"    dynamic_allocator:\n"
	"      max_workers: 20\n"
	"      spawn_rate: 100\n"
	"      idle_timeout: 2m\n";

Test(config, full_config_sets_every_key)
{
	struct rr_config *c = load(full_config);

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(cap.n[CONFIG_ERROR] + cap.n[CONFIG_WARN], 0, "%s",
	    cap.buf);
	cr_assert_str_eq(c->rpc_listen, "unix:///run/rr-rpc.sock");
	cr_assert_str_eq(c->env[0], "APP_ENV=prod");
	cr_assert_null(c->env[1]);
	cr_assert_str_eq(c->log_level, "debug");
	cr_assert_str_eq(c->log_encoding, "json");
	cr_assert_str_eq(c->log_output, "/var/log/rrtcp.log");

	cr_assert_eq(c->nservers, 1);
	cr_assert_str_eq(c->servers[0].host, "0.0.0.0");
	cr_assert_str_eq(c->servers[0].port, "25");
	cr_assert_eq(c->servers[0].delim_len, 1);
	cr_assert_eq(c->servers[0].delim[0], '\n');
	cr_assert_eq(c->servers[0].max_message_size, 64 * 1024);
	cr_assert_eq(c->read_buf_size, 4 * MIB);
	cr_assert_eq(c->reactors, 3);
	cr_assert_eq(c->max_connections, 5000);
	cr_assert_eq(c->max_frame_size, 8 * MIB);
	cr_assert_eq(c->close_timeout_ms, 2000);

	/* tcp.pool.command wins over server.command */
	cr_assert_str_eq(c->pool.command[0], "php");
	cr_assert_str_eq(c->pool.command[2], "memory_limit=1G");
	cr_assert_str_eq(c->pool.command[3], "tcp.php");
	cr_assert_null(c->pool.command[4]);
	cr_assert_eq(c->pool.num_workers, 7);
	cr_assert_eq(c->pool.max_jobs, 1000);
	cr_assert_eq(c->pool.max_queue_size, 50);
	cr_assert_eq(c->pool.allocate_timeout_ms, 30000);
	cr_assert_eq(c->pool.destroy_timeout_ms, 90000);
	cr_assert_eq(c->pool.reset_timeout_ms, 500);
	cr_assert_eq(c->pool.stream_timeout_ms, 3600000);
	cr_assert_eq(c->pool.debug, 1);
	cr_assert_eq(c->pool.supervisor.enabled, 1);
	cr_assert_eq(c->pool.supervisor.watch_tick_ms, 1000);
	cr_assert_eq(c->pool.supervisor.ttl_ms, 300000);
	cr_assert_eq(c->pool.supervisor.idle_ttl_ms, 10000);
	cr_assert_eq(c->pool.supervisor.max_worker_memory_mb, 128);
	cr_assert_eq(c->pool.supervisor.exec_ttl_ms, 2500);
	cr_assert_eq(c->pool.dynamic.enabled, 1);
	cr_assert_eq(c->pool.dynamic.max_workers, 20);
	cr_assert_eq(c->pool.dynamic.spawn_rate, 100);
	cr_assert_eq(c->pool.dynamic.idle_timeout_ms, 120000);
	config_free(c);
}

Test(config, supervisor_section_enables_it_with_default_watch_tick)
{
	struct rr_config *c = load(HEAD SMTP
	    "  pool:\n"
	    "    supervisor:\n"
	    "      exec_ttl: 10s\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->pool.supervisor.enabled, 1);
	cr_assert_eq(c->pool.supervisor.watch_tick_ms, 5000);
	cr_assert_eq(c->pool.supervisor.exec_ttl_ms, 10000);
	cr_assert_eq(c->pool.supervisor.ttl_ms, 0);
	config_free(c);
}

Test(config, null_supervisor_section_stays_disabled_like_roadrunner)
{
	struct rr_config *c = load(HEAD SMTP
	    "  pool:\n"
	    "    supervisor:\n"
	    "    dynamic_allocator: {}\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->pool.supervisor.enabled, 0);
	cr_assert_eq(c->pool.dynamic.enabled, 1);
	config_free(c);
}

Test(config, num_workers_zero_means_online_cpus)
{
	struct rr_config *c = load(HEAD SMTP
	    "  reactors: 0\n"
	    "  pool:\n"
	    "    num_workers: 0\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->pool.num_workers, (unsigned)cpus());
	cr_assert_eq(c->reactors, (unsigned)cpus());
	config_free(c);
}

Test(config, rpc_section_without_listen_gets_roadrunner_default)
{
	struct rr_config *c = load(HEAD SMTP "rpc:\n  foo: 1\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->rpc_listen, "tcp://127.0.0.1:6001");
	HAS("W rrtcp.yaml:9: unknown key \"foo\" in rpc, ignored");
	config_free(c);
}

/* Every worker may keep an RPC connection: the default cap has room for
 * the pool's most workers plus 64 other clients. */
Test(config, rpc_limits_default_to_room_for_every_worker)
{
	struct rr_config *c = load(HEAD SMTP
	    "  pool:\n"
	    "    num_workers: 8\n"
	    "rpc:\n"
	    "  listen: tcp://127.0.0.1:6001\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->rpc_max_connections, 8 + 64);
	cr_assert_eq(c->rpc_max_frame_size, 1024 * 1024);
	cr_assert_eq(c->rpc_read_timeout_ms, 10000);
	config_free(c);

	c = load(HEAD SMTP
	    "  pool:\n"
	    "    num_workers: 4\n"
	    "    dynamic_allocator:\n"
	    "      max_workers: 20\n"
	    "rpc:\n"
	    "  listen: tcp://127.0.0.1:6001\n");
	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->rpc_max_connections, 4 + 20 + 64);
	config_free(c);

	c = load(HEAD SMTP "rpc:\n  listen: tcp://127.0.0.1:6001\n");
	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->rpc_max_connections, (uint64_t)cpus() + 64);
	config_free(c);
}

Test(config, rpc_limits_are_read)
{
	struct rr_config *c = load(HEAD SMTP
	    "rpc:\n"
	    "  listen: tcp://127.0.0.1:6001\n"
	    "  max_connections: 5\n"
	    "  max_frame_size: 64KiB\n"
	    "  read_timeout: 1500ms\n");
	char *text = NULL;
	size_t len = 0;
	FILE *fp;

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(cap.n[CONFIG_ERROR] + cap.n[CONFIG_WARN], 0, "%s",
	    cap.buf);
	cr_assert_eq(c->rpc_max_connections, 5);
	cr_assert_eq(c->rpc_max_frame_size, 64 * 1024);
	cr_assert_eq(c->rpc_read_timeout_ms, 1500);
	cr_assert_not_null(fp = open_memstream(&text, &len));
	config_dump(c, fp);
	fclose(fp);
	cr_assert(strstr(text, "rpc:\n  listen: \"tcp://127.0.0.1:6001\"\n"
	    "  max_connections: 5\n  max_frame_size: 65536\n"
	    "  read_timeout: 1.5s\n") != NULL, "%s", text);
	config_free(c);
	free(text);
}

Test(config, rpc_limits_out_of_range_are_errors)
{
	cr_assert_null(load(HEAD SMTP
	    "rpc:\n"
	    "  max_connections: 0\n"
	    "  max_frame_size: 512\n"
	    "  read_timeout: 0s\n"));
	HAS("E rrtcp.yaml:9: max_connections: must be at least 1");
	HAS("E rrtcp.yaml:10: max_frame_size: 512 is out of range (1024 "
	    "bytes to 16 MiB)");
	HAS("E rrtcp.yaml:11: read_timeout: must be more than 0 (a frame "
	    "must not wait for ever)");
	cr_assert_null(load(HEAD SMTP
	    "rpc:\n"
	    "  max_frame_size: 17MiB\n"
	    "  read_timeout: soon\n"));
	HAS("E rrtcp.yaml:9: max_frame_size: 17825792 is out of range (1024 "
	    "bytes to 16 MiB)");
	HAS("E rrtcp.yaml:10: read_timeout: invalid duration \"soon\" "
	    "(write e.g. \"60s\", \"1m30s\", \"500ms\")");
}

Test(config, workdir_comes_from_opts_when_given)
{
	struct config_opts o = { "/srv/app", NULL, 0 };
	struct rr_config *c;

	write_file("rrtcp.yaml", HEAD SMTP);
	c = config_load("rrtcp.yaml", &o, capture, &cap);
	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->workdir, "/srv/app");
	config_free(c);
}

Test(config, workdir_is_the_config_files_absolute_directory)
{
	struct rr_config *c;
	char want[PATH_MAX + 8];

	cr_assert_eq(mkdir("sub", 0700), 0);
	write_file("sub/rr.yaml", HEAD SMTP);
	c = config_load("sub/../sub/rr.yaml", NULL, capture, &cap);
	cr_assert_not_null(c, "%s", cap.buf);
	snprintf(want, sizeof(want), "%s/sub", tmpdir);
	cr_assert_str_eq(c->workdir, want);
	config_free(c);
	unlink("sub/rr.yaml");
	rmdir("sub");
}

Test(config, relative_paths_are_not_rewritten)
{
	struct rr_config *c = load(HEAD SMTP
	    "    local:\n"
	    "      addr: unix://run/rr.sock\n"
	    "logs:\n"
	    "  output: logs/rrtcp.log\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->servers[1].path, "run/rr.sock");
	cr_assert_str_eq(c->log_output, "logs/rrtcp.log");
	cr_assert_str_eq(c->pool.command[1], "worker.php");
	config_free(c);
}

/* ------------------------------------------------------------------------
 * the error texts
 */

Test(config, missing_version_is_an_error)
{
	struct rr_config *c = load(
	    "server:\n"
	    "  command: php worker.php\n"
	    SMTP);

	cr_assert_null(c);
	HAS("E rrtcp.yaml: missing version");
	cr_assert_eq(cap.n[CONFIG_ERROR], 1, "%s", cap.buf);
}

Test(config, version_other_than_3_warns_and_loads)
{
	struct rr_config *c = load(
	    "version: \"2.7\"\n"
	    "server:\n"
	    "  command: php worker.php\n"
	    SMTP);

	cr_assert_not_null(c, "%s", cap.buf);
	HAS("W rrtcp.yaml:1: version \"2.7\": rrtcp reads RoadRunner version "
	    "\"3\" configurations; reading it as one");
	config_free(c);
}

Test(config, no_tcp_section_means_no_servers_registered)
{
	cr_assert_null(load(HEAD));
	HAS("E rrtcp.yaml: no servers registered");
	cr_assert_eq(cap.n[CONFIG_ERROR], 1, "%s", cap.buf);
}

Test(config, empty_servers_map_means_no_servers_registered)
{
	cr_assert_null(load(HEAD
	    "tcp:\n"
	    "  servers: {}\n"));
	HAS("E rrtcp.yaml:5: no servers registered");
}

Test(config, empty_address_names_the_server)
{
	cr_assert_null(load(HEAD
	    "tcp:\n"
	    "  servers:\n"
	    "    smtp:\n"
	    "      addr: \"\"\n"
	    "    Pop3:\n"
	    "      delimiter: \"\\n\"\n"));
	HAS("E rrtcp.yaml:7: empty address for the server: smtp");
	HAS("E rrtcp.yaml:8: empty address for the server: pop3");
	cr_assert_eq(cap.n[CONFIG_ERROR], 2, "%s", cap.buf);
}

Test(config, unknown_scheme_is_invalid_protocol)
{
	cr_assert_null(load(HEAD
	    "tcp:\n"
	    "  servers:\n"
	    "    smtp:\n"
	    "      addr: garbage://127.0.0.1:25\n"));
	HAS("E rrtcp.yaml:7: invalid Protocol");
}

Test(config, missing_or_invalid_port_is_an_error)
{
	cr_assert_null(load(HEAD
	    "tcp:\n"
	    "  servers:\n"
	    "    a:\n"
	    "      addr: 127.0.0.1\n"
	    "    b:\n"
	    "      addr: \"127.0.0.1:\"\n"
	    "    c:\n"
	    "      addr: 127.0.0.1:http\n"
	    "    d:\n"
	    "      addr: 127.0.0.1:70000\n"
	    "    e:\n"
	    "      addr: ::1:7000\n"));
	HAS("E rrtcp.yaml:7: addr: missing port in address \"127.0.0.1\"");
	HAS("E rrtcp.yaml:9: addr: missing port in address \"127.0.0.1:\"");
	HAS("E rrtcp.yaml:11: addr: invalid port in address "
	    "\"127.0.0.1:http\"");
	HAS("E rrtcp.yaml:13: addr: invalid port in address "
	    "\"127.0.0.1:70000\"");
	HAS("E rrtcp.yaml:15: addr: too many colons in address \"::1:7000\" "
	    "(put an IPv6 host in brackets: \"[::1]:7000\")");
	cr_assert_eq(cap.n[CONFIG_ERROR], 5, "%s", cap.buf);
}

Test(config, no_command_is_an_error)
{
	cr_assert_null(load("version: \"3\"\n" SMTP));
	HAS("E rrtcp.yaml: no worker command: set server.command or "
	    "tcp.pool.command");
	cr_assert_eq(cap.n[CONFIG_ERROR], 1, "%s", cap.buf);
}

Test(config, num_workers_above_500_is_an_error)
{
	cr_assert_null(load(HEAD SMTP
	    "  pool:\n"
	    "    num_workers: 501\n"));
	HAS("E rrtcp.yaml:9: num_workers: 501 is too large (at most 500)");
}

Test(config, spawn_rate_above_100_is_an_error)
{
	cr_assert_null(load(HEAD SMTP
	    "  pool:\n"
	    "    dynamic_allocator:\n"
	    "      spawn_rate: 101\n"));
	HAS("E rrtcp.yaml:10: spawn_rate: 101 is too large (at most 100)");
}

Test(config, max_connections_must_be_at_least_one)
{
	cr_assert_null(load(HEAD SMTP "  max_connections: 0\n"));
	HAS("E rrtcp.yaml:8: max_connections: must be at least 1");
}

Test(config, relay_other_than_pipes_is_an_error)
{
	cr_assert_null(load(
	    "version: \"3\"\n"
	    "server:\n"
	    "  command: php worker.php\n"
	    "  relay: tcp://127.0.0.1:7000\n"
	    SMTP));
	HAS("E rrtcp.yaml:4: relay: only \"pipes\" is supported by rrtcp, got "
	    "\"tcp://127.0.0.1:7000\"");
}

Test(config, user_and_group_warn_and_are_ignored)
{
	struct rr_config *c = load(
	    "version: \"3\"\n"
	    "server:\n"
	    "  command: php worker.php\n"
	    "  user: www-data\n"
	    "  group: www-data\n"
	    SMTP);

	cr_assert_not_null(c, "%s", cap.buf);
	HAS("W rrtcp.yaml:4: server.user: not supported by rrtcp, ignored "
	    "(workers run as rrtcp's own user)");
	HAS("W rrtcp.yaml:5: server.group: not supported by rrtcp, ignored "
	    "(RoadRunner ignores it too)");
	config_free(c);
}

Test(config, cannot_open_reports_errno_text)
{
	struct rr_config *c = config_load("nonexistent.yaml", NULL, capture,
	    &cap);

	cr_assert_null(c);
	HAS("E nonexistent.yaml: cannot open: No such file or directory");
	cr_assert_eq(cap.n[CONFIG_ERROR], 1, "%s", cap.buf);
}

Test(config, yaml_syntax_error_has_a_line)
{
	cr_assert_null(load(HEAD
	    "tcp:\n"
	    "  servers: [a, b\n"
	    "  pool: {}\n"));
	cr_assert_eq(cap.n[CONFIG_ERROR], 1, "%s", cap.buf);
	cr_assert(strncmp(cap.buf, "E rrtcp.yaml:6: YAML: ", 22) == 0, "%s",
	    cap.buf);
}

Test(config, wrong_types_are_errors_with_file_and_line)
{
	cr_assert_null(load(HEAD SMTP
	    "  max_frame_size: [1]\n"
	    "  pool:\n"
	    "    num_workers: four\n"
	    "    max_jobs: {a: 1}\n"
	    "    debug: maybe\n"
	    "    supervisor: 5\n"
	    "logs:\n"
	    "  level: loud\n"
	    "  encoding: xml\n"));
	HAS("E rrtcp.yaml:8: max_frame_size: expected a scalar, got a list");
	HAS("E rrtcp.yaml:10: num_workers: expected an integer, got \"four\"");
	HAS("E rrtcp.yaml:11: max_jobs: expected a scalar, got a map");
	HAS("E rrtcp.yaml:12: debug: expected true or false, got \"maybe\"");
	HAS("E rrtcp.yaml:13: supervisor: expected a map, got a scalar");
	HAS("E rrtcp.yaml:15: level: expected debug, info, warn or error, got "
	    "\"loud\"");
	HAS("E rrtcp.yaml:16: encoding: expected console or json, got \"xml\"");
	cr_assert_eq(cap.n[CONFIG_ERROR], 7, "%s", cap.buf);
}

Test(config, malformed_sections_do_not_cascade)
{
	cr_assert_null(load(
	    "version: \"3\"\n"
	    "server: php worker.php\n"
	    "tcp:\n"
	    "  servers: [smtp]\n"));
	HAS("E rrtcp.yaml:2: server: expected a map, got a scalar");
	HAS("E rrtcp.yaml:4: servers: expected a map, got a list");
	/* no "no servers registered", no "no worker command" */
	cr_assert_eq(cap.n[CONFIG_ERROR], 2, "%s", cap.buf);
}

Test(config, integer_overflow_is_too_large)
{
	cr_assert_null(load(HEAD SMTP
	    "  pool:\n"
	    "    max_jobs: 18446744073709551616\n"
	    "    num_workers: 4294967296\n"));
	HAS("E rrtcp.yaml:9: max_jobs: 18446744073709551616 is too large (at "
	    "most 18446744073709551615)");
	HAS("E rrtcp.yaml:10: num_workers: 4294967296 is too large (at most "
	    "500)");
}

Test(config, negative_integer_is_an_error)
{
	cr_assert_null(load(HEAD SMTP
	    "  pool:\n"
	    "    max_jobs: -1\n"));
	HAS("E rrtcp.yaml:9: max_jobs: must not be negative, got -1");
}

Test(config, duplicate_keys_are_errors)
{
	cr_assert_null(load(HEAD SMTP
	    "  pool:\n"
	    "    num_workers: 1\n"
	    "    NUM_WORKERS: 2\n"));
	HAS("E rrtcp.yaml:10: duplicate key \"NUM_WORKERS\" in tcp.pool "
	    "(first at line 9)");
}

Test(config, two_servers_on_one_address_is_an_error)
{
	cr_assert_null(load(HEAD SMTP
	    "    smtp2:\n"
	    "      addr: tcp://127.0.0.1:2525\n"));
	HAS("E rrtcp.yaml:8: server \"smtp2\": address "
	    "\"tcp://127.0.0.1:2525\" is already used by server \"smtp\"");
}

Test(config, multiple_errors_are_reported_at_once_in_line_order)
{
	static const char *const want[] = {
		"E rrtcp.yaml:3: relay: only \"pipes\" is supported by rrtcp, "
		    "got \"sockets\"",
		"E rrtcp.yaml:7: invalid Protocol",
		"E rrtcp.yaml:9: empty address for the server: b",
		"E rrtcp.yaml:11: num_workers: 900 is too large (at most 500)",
		"E rrtcp.yaml:12: allocate_timeout: a bare number is not a "
		    "duration; write \"60s\" (RoadRunner would read 60 as "
		    "nanoseconds)",
		"E rrtcp.yaml: missing version",
	};
	char *p;
	size_t i;

	cr_assert_null(load(
	    "server:\n"
	    "  command: php worker.php\n"
	    "  relay: sockets\n"
	    "tcp:\n"
	    "  servers:\n"
	    "    a:\n"
	    "      addr: udp://127.0.0.1:1\n"
	    "    b:\n"
	    "      addr: ''\n"
	    "  pool:\n"
	    "    num_workers: 900\n"
	    "    allocate_timeout: 60\n"));
	cr_assert_eq(cap.n[CONFIG_ERROR], 6, "%s", cap.buf);
	p = cap.buf;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		cr_assert(strncmp(p, want[i], strlen(want[i])) == 0,
		    "line %zu: want \"%s\"; got:\n%s", i, want[i], cap.buf);
		p = strchr(p, '\n') + 1;
	}
}

/* ------------------------------------------------------------------------
 * unknown keys and other plugins
 */

Test(config, typo_warns_with_a_suggestion_and_still_loads)
{
	struct rr_config *c = load(HEAD SMTP
	    "      delimeter: \"\\n\"\n"
	    "  max_conections: 5\n"
	    "  pool:\n"
	    "    num_worker: 4\n"
	    "    wokers: 4\n"
	    "    supervisor:\n"
	    "      exec_tll: 1s\n"
	    "    frobnicate: 1\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(cap.n[CONFIG_ERROR], 0, "%s", cap.buf);
	HAS("W rrtcp.yaml:8: unknown key \"delimeter\" in tcp.servers.smtp, "
	    "ignored; did you mean \"delimiter\"?");
	HAS("W rrtcp.yaml:9: unknown key \"max_conections\" in tcp, ignored; "
	    "did you mean \"max_connections\"?");
	HAS("W rrtcp.yaml:11: unknown key \"num_worker\" in tcp.pool, "
	    "ignored; did you mean \"num_workers\"?");
	HAS("W rrtcp.yaml:12: unknown key \"wokers\" in tcp.pool, ignored");
	HAS("W rrtcp.yaml:14: unknown key \"exec_tll\" in tcp.pool.supervisor, "
	    "ignored; did you mean \"exec_ttl\"?");
	HAS("W rrtcp.yaml:15: unknown key \"frobnicate\" in tcp.pool, "
	    "ignored");
	/* the defaults stay: a typo is never read as the key */
	cr_assert_eq(c->servers[0].delim_len, 2);
	cr_assert_eq(c->pool.num_workers, (unsigned)cpus());
	config_free(c);
}

Test(config, key_in_the_wrong_section_points_to_the_right_one)
{
	struct rr_config *c = load(HEAD SMTP
	    "  num_workers: 4\n"
	    "  pool:\n"
	    "    addr: 1\n");

	cr_assert_not_null(c, "%s", cap.buf);
	HAS("W rrtcp.yaml:8: unknown key \"num_workers\" in tcp, ignored; did "
	    "you mean tcp.pool.num_workers?");
	HAS("W rrtcp.yaml:10: unknown key \"addr\" in tcp.pool, ignored; did "
	    "you mean tcp.servers.<name>.addr?");
	config_free(c);
}

Test(config, keys_are_case_insensitive)
{
	struct rr_config *c = load(
	    "Version: \"3\"\n"
	    "SERVER:\n"
	    "  Command: php worker.php\n"
	    "TCP:\n"
	    "  Servers:\n"
	    "    smtp:\n"
	    "      ADDR: :25\n"
	    "  Pool:\n"
	    "    Num_Workers: 3\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(cap.n[CONFIG_WARN] + cap.n[CONFIG_INFO], 0, "%s",
	    cap.buf);
	cr_assert_eq(c->pool.num_workers, 3);
	cr_assert_str_eq(c->servers[0].host, "");
	config_free(c);
}

Test(config, other_plugins_sections_are_ignored_with_one_info_line)
{
	struct rr_config *c = load(HEAD SMTP
	    "http:\n"
	    "  address: 0.0.0.0:8080\n"
	    "  pool:\n"
	    "    num_workers: 4000\n"
	    "jobs:\n"
	    "  consume: [local]\n"
	    "kv: {local: {driver: memory}}\n"
	    "grpc: {listen: \"tcp://:9001\"}\n"
	    "metrics:\n"
	    "  address: 127.0.0.1:2112\n"
	    "temporal: ~\n"
	    "service:\n"
	    "  a: {command: \"x\"}\n"
	    "centrifuge: {}\n"
	    "my_custom_plugin: 1\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(cap.n[CONFIG_ERROR] + cap.n[CONFIG_WARN], 0, "%s",
	    cap.buf);
	cr_assert_eq(cap.n[CONFIG_INFO], 1, "%s", cap.buf);
	HAS("I rrtcp.yaml: ignoring sections of other RoadRunner plugins: "
	    "http, jobs, kv, grpc, temporal, service, centrifuge, "
	    "my_custom_plugin");
	config_free(c);
}

Test(config, top_level_typo_of_our_section_warns)
{
	struct rr_config *c = load(HEAD SMTP "log:\n  level: debug\n");

	cr_assert_not_null(c, "%s", cap.buf);
	HAS("W rrtcp.yaml:8: unknown section \"log\", ignored; did you mean "
	    "\"logs\"?");
	cr_assert_eq(cap.n[CONFIG_INFO], 0, "%s", cap.buf);
	config_free(c);
}

Test(config, include_and_on_init_are_not_supported_and_warn)
{
	struct rr_config *c = load(HEAD
	    "  on_init:\n"
	    "    command: php init.php\n"
	    SMTP
	    "include: [other.yaml]\n");

	cr_assert_not_null(c, "%s", cap.buf);
	HAS("W rrtcp.yaml:4: server.on_init: not supported by rrtcp, ignored");
	HAS("W rrtcp.yaml:10: include: not supported by rrtcp; the included "
	    "files are not read");
	cr_assert_eq(cap.n[CONFIG_INFO], 0, "%s", cap.buf);
	config_free(c);
}

Test(config, dump_shows_defaults_and_disabled_sections)
{
	struct rr_config *c = load(HEAD SMTP);
	char *text = NULL;
	size_t len = 0;
	FILE *fp;

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_not_null(fp = open_memstream(&text, &len));
	config_dump(c, fp);
	fclose(fp);
	cr_assert(strstr(text, "    allocate_timeout: 1m0s\n") != NULL, "%s",
	    text);
	cr_assert(strstr(text, "  close_timeout: 10s\n") != NULL, "%s", text);
	cr_assert(strstr(text, "      delimiter: \"\\r\\n\"\n") != NULL, "%s",
	    text);
	cr_assert(strstr(text, "    command: [\"php\", \"worker.php\"]\n") !=
	    NULL, "%s", text);
	cr_assert(strstr(text, "# supervisor: not configured") != NULL, "%s",
	    text);
	cr_assert(strstr(text, "# rpc: not configured") != NULL, "%s", text);
	config_free(c);
	free(text);
}

/* ------------------------------------------------------------------------
 * durations and sizes
 */

Test(config, durations_parse_like_go)
{
	static const struct {
		const char	*in;
		int64_t		 ms;
	} ok[] = {
		{ "0", 0 }, { "0s", 0 }, { "60s", 60000 }, { "1m30s", 90000 },
		{ "500ms", 500 }, { "1h", 3600000 }, { "2.5s", 2500 },
		{ "1.5h", 5400000 }, { ".5s", 500 }, { "1.s", 1000 },
		{ "100us", 0 }, { "1500us", 1 }, { "1500\xc2\xb5s", 1 },
		{ "2000\xce\xbcs", 2 }, { "999999ns", 0 }, { "3000000ns", 3 },
		{ "1h2m3s4ms", 3723004 }, { "+5s", 5000 }, { "10m", 600000 },
		{ "2562047h", 2562047LL * 3600000 },
	};
	static const char *const bad[] = {
		"", "60", "2.5", "-1s", "-0", "1x", "s", ".s", "1h-2m", "1 s",
		"1S", "1e3s", "9999999999h", "1.5", "+", "5s ",
	};
	size_t i;
	int64_t ms;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ms = -1;
		cr_assert_eq(config_parse_duration(ok[i].in, &ms), 0, "\"%s\"",
		    ok[i].in);
		cr_assert_eq(ms, ok[i].ms, "\"%s\": %lld", ok[i].in,
		    (long long)ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(config_parse_duration(bad[i], &ms), -1,
		    "\"%s\" accepted", bad[i]);
	cr_assert_eq(config_parse_duration(NULL, &ms), -1);
}

Test(config, bare_number_duration_is_rejected_with_hint)
{
	cr_assert_null(load(HEAD SMTP
	    "  close_timeout: 2.5\n"
	    "  pool:\n"
	    "    allocate_timeout: 60\n"
	    "    supervisor:\n"
	    "      ttl: \"30\"\n"));
	HAS("E rrtcp.yaml:8: close_timeout: a bare number is not a duration; "
	    "write \"2.5s\" (RoadRunner would read 2.5 as nanoseconds)");
	HAS("E rrtcp.yaml:10: allocate_timeout: a bare number is not a "
	    "duration; write \"60s\" (RoadRunner would read 60 as "
	    "nanoseconds)");
	HAS("E rrtcp.yaml:12: ttl: a bare number is not a duration; write "
	    "\"30s\" (RoadRunner would read 30 as nanoseconds)");
	cr_assert_eq(cap.n[CONFIG_ERROR], 3, "%s", cap.buf);
}

Test(config, negative_and_invalid_durations_are_errors)
{
	cr_assert_null(load(HEAD SMTP
	    "  pool:\n"
	    "    reset_timeout: -5s\n"
	    "    stream_timeout: 5 minutes\n"));
	HAS("E rrtcp.yaml:9: reset_timeout: negative duration \"-5s\"");
	HAS("E rrtcp.yaml:10: stream_timeout: invalid duration \"5 minutes\" "
	    "(write e.g. \"60s\", \"1m30s\", \"500ms\")");
}

Test(config, zero_timeouts_mean_the_defaults)
{
	struct rr_config *c = load(HEAD SMTP
	    "  close_timeout: 0\n"
	    "  pool:\n"
	    "    allocate_timeout: 0s\n"
	    "    dynamic_allocator:\n"
	    "      idle_timeout: 0s\n"
	    "    supervisor:\n"
	    "      watch_tick: 0s\n"
	    "      exec_ttl: 0s\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->close_timeout_ms, 10000);
	cr_assert_eq(c->pool.allocate_timeout_ms, 60000);
	cr_assert_eq(c->pool.dynamic.idle_timeout_ms, 60000);
	cr_assert_eq(c->pool.supervisor.watch_tick_ms, 5000);
	cr_assert_eq(c->pool.supervisor.exec_ttl_ms, 0);
	config_free(c);
}

Test(config, max_message_size_takes_bytes_or_suffixes)
{
	static const struct {
		const char	*in;
		size_t		 bytes;
	} t[] = {
		{ "100", 100 }, { "100B", 100 }, { "2K", 2048 },
		{ "2KB", 2048 }, { "2KiB", 2048 }, { "3M", 3 * MIB },
		{ "3MB", 3 * MIB }, { "3MiB", 3 * MIB }, { "\"1 mib\"", MIB },
		{ "1G", 1024 * MIB }, { "1GiB", 1024 * MIB },
	};
	char yaml[512];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct rr_config *c;

		snprintf(yaml, sizeof(yaml), HEAD SMTP
		    "      max_message_size: %s\n", t[i].in);
		c = load(yaml);
		cr_assert_not_null(c, "%s: %s", t[i].in, cap.buf);
		cr_assert_eq(c->servers[0].max_message_size, t[i].bytes,
		    "%s: %zu", t[i].in, c->servers[0].max_message_size);
		config_free(c);
	}
}

Test(config, bad_sizes_are_errors)
{
	cr_assert_null(load(HEAD SMTP
	    "      max_message_size: 1T\n"
	    "    b:\n"
	    "      addr: :1\n"
	    "      delimiter: abc\n"
	    "      max_message_size: 2\n"
	    "  max_frame_size: 0\n"));
	HAS("E rrtcp.yaml:8: max_message_size: invalid size \"1T\" (bytes, or "
	    "a number with K, KiB, M, MiB, G or GiB)");
	HAS("E rrtcp.yaml:12: max_message_size: 2 is shorter than the "
	    "delimiter");
	HAS("E rrtcp.yaml:13: max_frame_size: must be at least 1 byte");
}

Test(config, reactors_above_rr_max_reactors_are_an_error)
{
	struct rr_config *c = load(HEAD SMTP "  reactors: 64\n");
	char *ovr[] = { "tcp.reactors=65" };

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->reactors, RR_MAX_REACTORS);
	config_free(c);
	cr_assert_null(load(HEAD SMTP "  reactors: 65\n"));
	HAS("E rrtcp.yaml:8: reactors: 65 is too large (at most 64)");
	cr_assert_null(load_o(HEAD SMTP, ovr, 1));
	HAS("E -o tcp.reactors=65: reactors: 65 is too large (at most 64)");
}

Test(config, max_frame_size_beyond_a_32_bit_length_is_an_error)
{
	struct rr_config *c = load(HEAD SMTP "  max_frame_size: 4294967295\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->max_frame_size, 4294967295u);
	config_free(c);
	cr_assert_null(load(HEAD SMTP "  max_frame_size: 4GiB\n"));
	HAS("E rrtcp.yaml:8: max_frame_size: 4294967296 is more than a "
	    "goridge frame can carry (its length is 32 bits: at most "
	    "4294967295)");
}

Test(config, max_frame_size_below_a_handshake_is_an_error)
{
	struct rr_config *c = load(HEAD SMTP "  max_frame_size: 1KiB\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->max_frame_size, RR_MIN_FRAME_SIZE);
	config_free(c);
	cr_assert_null(load(HEAD SMTP "  max_frame_size: 1023\n"));
	HAS("E rrtcp.yaml:8: max_frame_size: 1023 is too small for a worker's "
	    "handshake (at least 1024)");
}

/* The message and its event context share one 32-bit frame length. */
Test(config, max_message_size_that_cannot_be_framed_is_an_error)
{
	struct rr_config *c = load(HEAD SMTP
	    "      max_message_size: 4000000000\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->servers[0].max_message_size, 4000000000u);
	config_free(c);
	/* fits a frame alone, not with the context in front of it */
	cr_assert_null(load(HEAD SMTP
	    "      max_message_size: 4294967295\n"
	    "    b:\n"
	    "      addr: :1\n"
	    "      max_message_size: 5G\n"));
	HAS("E rrtcp.yaml:8: max_message_size: 4294967295 does not fit in a "
	    "goridge frame with its event context (at most 4294966969 for "
	    "this server)");
	HAS("E rrtcp.yaml:11: max_message_size: 5368709120 does not fit in a "
	    "goridge frame with its event context (at most 4294966987 for "
	    "this server)");
}

Test(config, read_buf_size_is_mib)
{
	struct rr_config *c = load(HEAD SMTP "  read_buf_size: 3\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->read_buf_size, 3 * MIB);
	config_free(c);
}

/* ------------------------------------------------------------------------
 * environment expansion
 */

Test(config, env_vars_are_expanded_in_values)
{
	struct rr_config *c;

	setenv("RRT_HOST", "10.0.0.1", 1);
	setenv("RRT_PORT", "2600", 1);
	setenv("RRT_EMPTY", "", 1);
	setenv("RRT_KEY", "never", 1);
	unsetenv("RRT_UNSET");
	c = load(
	    "version: \"3\"\n"
	    "server:\n"
	    "  command: php ${RRT_UNSET:-w.php} $RRT_UNSET x${RRT_EMPTY}y "
	    "\"$RRT_HOST\"\n"
	    "  env:\n"
	    "    $RRT_KEY: a$$b${}c\n"
	    "    d: ${RRT_EMPTY:-dflt}\n"
	    "    e: ${RRT_HOST:-dflt}\n"
	    "    f: 100$\n"
	    "tcp:\n"
	    "  servers:\n"
	    "    smtp:\n"
	    "      addr: $RRT_HOST:${RRT_PORT}\n"
	    "  pool:\n"
	    "    num_workers: ${RRT_UNSET:-2}\n");
	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->servers[0].addr, "10.0.0.1:2600");
	cr_assert_str_eq(c->servers[0].host, "10.0.0.1");
	cr_assert_eq(c->pool.num_workers, 2);
	cr_assert_str_eq(c->pool.command[0], "php");
	cr_assert_str_eq(c->pool.command[1], "w.php");
	cr_assert_str_eq(c->pool.command[2], "xy");
	/* no quoting: the quotes stay part of the word */
	cr_assert_str_eq(c->pool.command[3], "\"10.0.0.1\"");
	cr_assert_null(c->pool.command[4]);
	/* keys are not expanded; "$$" is Go's (empty) special var "$" */
	cr_assert_str_eq(c->env[0], "$RRT_KEY=abc");
	cr_assert_str_eq(c->env[1], "D=dflt");
	cr_assert_str_eq(c->env[2], "E=10.0.0.1");
	cr_assert_str_eq(c->env[3], "F=100$");
	config_free(c);
}

/* ------------------------------------------------------------------------
 * server.command, server.env, names, addresses
 */

Test(config, command_string_splits_on_blanks_only)
{
	struct rr_config *c = load(
	    "version: \"3\"\n"
	    "server:\n"
	    "  command: \"  php\\t-d opt=a,b  'w x.php' \"\n"
	    SMTP);

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->pool.command[0], "php");
	cr_assert_str_eq(c->pool.command[1], "-d");
	cr_assert_str_eq(c->pool.command[2], "opt=a,b");
	cr_assert_str_eq(c->pool.command[3], "'w");
	cr_assert_str_eq(c->pool.command[4], "x.php'");
	cr_assert_null(c->pool.command[5]);
	HAS("W rrtcp.yaml:3: command: RoadRunner would split this command on "
	    "\",\"; rrtcp splits it on blanks only (use a YAML list to be "
	    "explicit)");
	config_free(c);
}

Test(config, command_list_is_used_as_argv)
{
	struct rr_config *c = load(
	    "version: \"3\"\n"
	    "server:\n"
	    "  command:\n"
	    "    - php\n"
	    "    - my worker.php\n"
	    "    - \"\"\n"
	    SMTP);

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->pool.command[0], "php");
	cr_assert_str_eq(c->pool.command[1], "my worker.php");
	cr_assert_str_eq(c->pool.command[2], "");
	cr_assert_null(c->pool.command[3]);
	config_free(c);
}

Test(config, pool_command_overrides_server_command)
{
	struct rr_config *c = load(HEAD SMTP
	    "  pool:\n"
	    "    command: php tcp.php\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->pool.command[1], "tcp.php");
	config_free(c);
}

Test(config, server_env_is_upper_cased_and_deduplicated)
{
	struct rr_config *c = load(
	    "version: \"3\"\n"
	    "server:\n"
	    "  command: php w.php\n"
	    "  env:\n"
	    "    app_env: dev\n"
	    "    Debug: 1\n"
	    "    APP_ENV: prod\n"
	    "    empty:\n"
	    "    path: /a=b\n"
	    SMTP);

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->env[0], "APP_ENV=prod");
	cr_assert_str_eq(c->env[1], "DEBUG=1");
	cr_assert_str_eq(c->env[2], "EMPTY=");
	cr_assert_str_eq(c->env[3], "PATH=/a=b");
	cr_assert_null(c->env[4]);
	config_free(c);
}

Test(config, server_names_are_lower_cased)
{
	struct rr_config *c = load(HEAD
	    "tcp:\n"
	    "  servers:\n"
	    "    SMTP:\n"
	    "      addr: :25\n"
	    "    Pop3:\n"
	    "      addr: :110\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->nservers, 2);
	cr_assert_str_eq(c->servers[0].name, "smtp");
	cr_assert_str_eq(c->servers[1].name, "pop3");
	cr_assert_eq(c->servers[1].line, 8);
	config_free(c);
}

Test(config, server_names_follow_roadrunners_schema)
{
	struct rr_config *c = load(HEAD
	    "tcp:\n"
	    "  servers:\n"
	    "    tcp_access-point.1:\n"
	    "      addr: :1\n"
	    "    a2345678901234567890123456789012"
	    "34567890123456789012345678901234:\n"
	    "      addr: :2\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->servers[0].name, "tcp_access-point.1");
	cr_assert_eq(strlen(c->servers[1].name), 64);
	config_free(c);

	cr_assert_null(load(HEAD
	    "tcp:\n"
	    "  servers:\n"
	    "    \"my server\":\n"
	    "      addr: :1\n"
	    "    \"a/b\\n\":\n"
	    "      addr: :2\n"
	    "    a2345678901234567890123456789012"
	    "345678901234567890123456789012345:\n"
	    "      addr: :3\n"
	    "    ok:\n"
	    "      addr: :4\n"));
	HAS("E rrtcp.yaml:6: tcp.servers: server name \"my server\" may hold "
	    "only letters, digits, \".\", \"_\" and \"-\"");
	HAS("E rrtcp.yaml:8: tcp.servers: server name \"a/b\\n\" may hold "
	    "only letters, digits, \".\", \"_\" and \"-\"");
	HAS("E rrtcp.yaml:10: tcp.servers: server name "
	    "\"a2345678901234567890123456789012"
	    "345678901234567890123456789012345\" is longer than 64 bytes");
	cr_assert_eq(cap.n[CONFIG_ERROR], 3, "%s", cap.buf);
}

Test(config, server_names_colliding_after_lower_casing_are_an_error)
{
	cr_assert_null(load(HEAD SMTP
	    "    Smtp:\n"
	    "      addr: :26\n"));
	HAS("E rrtcp.yaml:8: server \"smtp\" is already defined at line 6 "
	    "(server names are case-insensitive)");
}

Test(config, addresses_ipv6_unix_and_tcp_scheme)
{
	struct rr_config *c = load(HEAD
	    "tcp:\n"
	    "  servers:\n"
	    "    v6:\n"
	    "      addr: \"[::1]:7000\"\n"
	    "    any:\n"
	    "      addr: :7001\n"
	    "    sock:\n"
	    "      addr: unix:///tmp/rrtcp.sock\n"
	    "    scheme:\n"
	    "      addr: tcp://localhost:7002\n"
	    "    v6any:\n"
	    "      addr: tcp://[::]:7003\n");
	const struct rr_server_conf *s;

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->nservers, 5);
	s = c->servers;
	cr_assert_str_eq(s[0].host, "::1");
	cr_assert_str_eq(s[0].port, "7000");
	cr_assert_str_eq(s[1].host, "");
	cr_assert_str_eq(s[1].port, "7001");
	cr_assert_eq(s[2].is_unix, 1);
	cr_assert_str_eq(s[2].path, "/tmp/rrtcp.sock");
	cr_assert_null(s[2].host);
	cr_assert_null(s[2].port);
	cr_assert_str_eq(s[3].host, "localhost");
	cr_assert_str_eq(s[3].port, "7002");
	cr_assert_str_eq(s[3].addr, "tcp://localhost:7002");
	cr_assert_str_eq(s[4].host, "::");
	config_free(c);
}

Test(config, rpc_listen_is_validated)
{
	cr_assert_null(load(HEAD SMTP "rpc:\n  listen: http://x:1\n"));
	HAS("E rrtcp.yaml:9: invalid Protocol");
}

/* ------------------------------------------------------------------------
 * YAML details
 */

Test(config, delimiter_double_quotes_escape_single_quotes_do_not)
{
	struct rr_config *c = load(HEAD
	    "tcp:\n"
	    "  servers:\n"
	    "    dq:\n"
	    "      addr: :1\n"
	    "      delimiter: \"\\r\\n\"\n"
	    "    sq:\n"
	    "      addr: :2\n"
	    "      delimiter: '\\r\\n'\n"
	    "    empty:\n"
	    "      addr: :3\n"
	    "      delimiter: \"\"\n"
	    "    nul:\n"
	    "      addr: :4\n"
	    "      delimiter: \"\\0\"\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->servers[0].delim_len, 2);
	cr_assert_eq(memcmp(c->servers[0].delim, "\r\n", 2), 0);
	cr_assert_eq(c->servers[1].delim_len, 4);
	cr_assert_eq(memcmp(c->servers[1].delim, "\\r\\n", 4), 0);
	cr_assert_eq(c->servers[2].delim_len, 2);
	cr_assert_eq(memcmp(c->servers[2].delim, "\r\n", 2), 0);
	cr_assert_eq(c->servers[3].delim_len, 1);
	cr_assert_eq(c->servers[3].delim[0], '\0');
	config_free(c);
}

Test(config, aliases_and_merge_keys_are_supported)
{
	struct rr_config *c = load(
	    "version: \"3\"\n"
	    "x-common: &common\n"
	    "  delimiter: \"\\n\"\n"
	    "  max_message_size: 4K\n"
	    "server:\n"
	    "  command: &cmd [php, w.php]\n"
	    "tcp:\n"
	    "  servers:\n"
	    "    a:\n"
	    "      <<: *common\n"
	    "      addr: :1\n"
	    "    b:\n"
	    "      <<: [*common]\n"
	    "      addr: :2\n"
	    "      max_message_size: 8K\n"
	    "  pool:\n"
	    "    command: *cmd\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->servers[0].delim_len, 1);
	cr_assert_eq(c->servers[0].max_message_size, 4096);
	cr_assert_eq(c->servers[1].delim_len, 1);
	cr_assert_eq(c->servers[1].max_message_size, 8192);
	cr_assert_str_eq(c->pool.command[1], "w.php");
	HAS("I rrtcp.yaml: ignoring sections of other RoadRunner plugins: "
	    "x-common");
	config_free(c);
}

/*
 * A hostile file with 100 000 anchors and as many aliases loads, and each
 * alias finds its own anchor (a later anchor of the same name wins).  The
 * hash table loads it in about 0.3 s; the old linear lookup took 12 s, so
 * the timeout catches a relapse.
 */
#define MANY_ANCHORS	100000

Test(config, many_anchors_and_aliases_load_quickly, .timeout = 5)
{
	struct rr_config *c;
	char *text = NULL;
	size_t len = 0, i;
	FILE *fp;

	cr_assert_not_null(fp = open_memstream(&text, &len));
	fputs(HEAD "x-many:\n", fp);
	for (i = 0; i < MANY_ANCHORS; i++)
		fprintf(fp, "  - &a%zu \"127.0.0.1:%zu\"\n", i,
		    1000 + i % 60000);
	fputs("  - &a5 \"127.0.0.1:7005\"\n", fp);
	for (i = 0; i < MANY_ANCHORS; i++)
		fprintf(fp, "  - *a%zu\n", i);
	fputs("tcp:\n  servers:\n"
	    "    one:\n      addr: *a77777\n"
	    "    two:\n      addr: *a5\n", fp);
	cr_assert_eq(fclose(fp), 0);

	c = load(text);
	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->servers[0].addr, "127.0.0.1:18777");
	cr_assert_str_eq(c->servers[1].addr, "127.0.0.1:7005");
	config_free(c);
	free(text);
}

/* The same at the top level, where other plugins' sections are listed. */
Test(config, many_top_level_anchors_load_quickly, .timeout = 5)
{
	struct rr_config *c;
	char *text = NULL, want[512];
	size_t len = 0, i, n = 0;
	FILE *fp;

	cr_assert_not_null(fp = open_memstream(&text, &len));
	fputs(HEAD SMTP, fp);
	for (i = 0; i < MANY_ANCHORS; i++)
		fprintf(fp, "k%zu: &a%zu x\n", i, i);
	for (i = 0; i < MANY_ANCHORS; i++)
		fprintf(fp, "K%zu: *a%zu\n", i, i);
	cr_assert_eq(fclose(fp), 0);

	c = load(text);
	cr_assert_not_null(c, "%s", cap.buf);
	config_free(c);
	n += (size_t)snprintf(want, sizeof(want), "I rrtcp.yaml: ignoring "
	    "sections of other RoadRunner plugins: k0");
	for (i = 1; i < 32; i++)
		n += (size_t)snprintf(want + n, sizeof(want) - n, ", k%zu", i);
	snprintf(want + n, sizeof(want) - n, ", ...");
	HAS("%s", want);
	free(text);
}

Test(config, unknown_alias_is_an_error)
{
	cr_assert_null(load(HEAD SMTP "  pool: *nope\n"));
	HAS("E rrtcp.yaml:8: YAML: unknown anchor \"nope\"");
}

Test(config, only_the_first_document_is_read)
{
	struct rr_config *c = load(HEAD SMTP "---\nversion: \"2\"\n");

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->version, "3");
	HAS("W rrtcp.yaml:8: only the first YAML document is read; this one "
	    "is ignored");
	config_free(c);
}

/* ------------------------------------------------------------------------
 * -o overrides
 */

Test(config, overrides_set_values_and_create_maps)
{
	char *ovr[] = {
		"tcp.pool.num_workers=4",
		"tcp.servers.Extra.addr=127.0.0.1:2526",
		" TCP.Pool.Supervisor.exec_ttl = '3s' ",
		"server.env.added=${RRT_O:-x}",
		"tcp.servers.smtp.delimiter=\\n",
	};
	struct rr_config *c = load_o(HEAD SMTP
	    "  pool:\n"
	    "    num_workers: 2\n", ovr, 5);

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_eq(c->pool.num_workers, 4);
	cr_assert_eq(c->nservers, 2);
	cr_assert_str_eq(c->servers[1].name, "extra");
	cr_assert_str_eq(c->servers[1].port, "2526");
	cr_assert_eq(c->servers[1].line, 0);
	cr_assert_eq(c->pool.supervisor.enabled, 1);
	cr_assert_eq(c->pool.supervisor.exec_ttl_ms, 3000);
	cr_assert_str_eq(c->env[0], "ADDED=x");
	/* a plain scalar: no escape processing */
	cr_assert_eq(c->servers[0].delim_len, 2);
	cr_assert_eq(memcmp(c->servers[0].delim, "\\n", 2), 0);
	config_free(c);
}

Test(config, overrides_fill_in_a_missing_file_section)
{
	char *ovr[] = { "server.command=php w.php" };
	struct rr_config *c = load_o("version: \"3\"\n" SMTP, ovr, 1);

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->pool.command[1], "w.php");
	config_free(c);
}

Test(config, override_does_not_leak_into_aliased_maps)
{
	char *ovr[] = { "tcp.servers.b.addr=:9" };
	struct rr_config *c = load_o(HEAD
	    "tcp:\n"
	    "  servers:\n"
	    "    a: &s\n"
	    "      addr: :8\n"
	    "    b: *s\n", ovr, 1);

	cr_assert_not_null(c, "%s", cap.buf);
	cr_assert_str_eq(c->servers[0].port, "8");
	cr_assert_str_eq(c->servers[1].port, "9");
	config_free(c);
}

Test(config, malformed_override_is_an_error)
{
	char *ovr[] = { "tcp.pool", "=x", "tcp.pool.debug=" };

	cr_assert_null(load_o(HEAD SMTP, ovr, 3));
	HAS("E -o tcp.pool: expected key.path=value");
	HAS("E -o =x: expected key.path=value (empty key)");
	HAS("E -o tcp.pool.debug=: value should not be empty");
	cr_assert_eq(cap.n[CONFIG_ERROR], 3, "%s", cap.buf);
}

Test(config, override_values_are_reported_at_minus_o)
{
	char *ovr[] = { "tcp.pool.allocate_timeout=60",
	    "tcp.servers.smtp.addr.x=1" };

	cr_assert_null(load_o(HEAD SMTP, ovr, 2));
	HAS("E -o tcp.pool.allocate_timeout=60: allocate_timeout: a bare "
	    "number is not a duration; write \"60s\" (RoadRunner would read 60 "
	    "as nanoseconds)");
	HAS("E -o tcp.servers.smtp.addr.x=1: cannot set \"x\": its parent is a "
	    "scalar, not a map");
}

/* ------------------------------------------------------------------------
 * dump
 */

Test(config, dump_reloads_to_the_same_config)
{
	struct rr_config *a, *b;
	char *text = NULL;
	size_t len = 0, i;
	FILE *fp;

	a = load(full_config);
	cr_assert_not_null(a, "%s", cap.buf);
	cr_assert_not_null(fp = open_memstream(&text, &len));
	config_dump(a, fp);
	fclose(fp);
	cr_assert(strstr(text, "    destroy_timeout: 1m30s\n") != NULL, "%s",
	    text);
	cr_assert(strstr(text, "      delimiter: \"\\n\"\n") != NULL, "%s",
	    text);
	b = load(text);
	cr_assert_not_null(b, "%s\n%s", cap.buf, text);
	cr_assert_eq(cap.n[CONFIG_WARN], 0, "%s", cap.buf);
	cr_assert_str_eq(b->rpc_listen, a->rpc_listen);
	cr_assert_eq(b->nservers, a->nservers);
	cr_assert_eq(b->servers[0].delim_len, a->servers[0].delim_len);
	cr_assert_eq(b->servers[0].max_message_size,
	    a->servers[0].max_message_size);
	cr_assert_eq(b->read_buf_size, a->read_buf_size);
	cr_assert_eq(b->max_frame_size, a->max_frame_size);
	for (i = 0; a->pool.command[i] != NULL; i++)
		cr_assert_str_eq(b->pool.command[i], a->pool.command[i]);
	cr_assert_eq(memcmp(&a->pool.supervisor, &b->pool.supervisor,
	    sizeof(a->pool.supervisor)), 0);
	cr_assert_eq(memcmp(&a->pool.dynamic, &b->pool.dynamic,
	    sizeof(a->pool.dynamic)), 0);
	cr_assert_eq(a->pool.destroy_timeout_ms, b->pool.destroy_timeout_ms);
	cr_assert_eq(a->pool.reset_timeout_ms, b->pool.reset_timeout_ms);
	cr_assert_str_eq(b->log_level, a->log_level);
	cr_assert_str_eq(b->env[0], a->env[0]);
	config_free(a);
	config_free(b);
	free(text);
}

/* ------------------------------------------------------------------------
 * the shipped example
 */

/*
 * A file of the repository: under SRCDIR if the build defines it, else
 * relative to this file's directory (tests/..), which is the repository
 * root whether the compiler saw an absolute or a cwd-relative path.
 */
static void
repo_path(char *buf, size_t size, const char *rel)
{
#ifdef SRCDIR
	snprintf(buf, size, "%s/%s", SRCDIR, rel);
#else
	const char *file = __FILE__, *slash;

	slash = strrchr(file, '/');
	if (slash == NULL)
		snprintf(buf, size, "../%s", rel);
	else
		snprintf(buf, size, "%.*s/../%s", (int)(slash - file), file,
		    rel);
#endif
}

Test(config_example, shipped_rrtcp_yaml_loads_without_errors)
{
	struct capture c = { strdup(""), 0, { 0, 0, 0 } };
	struct rr_config *cfg;
	char path[PATH_MAX];

	repo_path(path, sizeof(path), "conf/rrtcp.yaml");
	cfg = config_load(path, NULL, capture, &c);
	cr_assert_not_null(cfg, "%s", c.buf);
	cr_assert_eq(c.n[CONFIG_ERROR], 0, "%s", c.buf);
	cr_assert_gt(cfg->nservers, 0);
	config_free(cfg);
	free(c.buf);
}
