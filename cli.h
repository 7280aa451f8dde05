/*
 * cli.h - the operator commands: check, workers, reset, stop.  They talk to a
 * running rrtcp over its RPC socket (JSON codec) or through its pid file.
 */
#ifndef RRTCP_CLI_H
#define RRTCP_CLI_H

#include <stddef.h>

struct config_opts;

enum cli_cmd {
	CLI_CHECK,
	CLI_WORKERS,
	CLI_RESET,
	CLI_STOP
};

/* The -c, -w and -o options every command takes. */
struct cli_config_args {
	const char	*file;		/* -c, default .rr.yaml */
	const char	*workdir;	/* -w, or NULL */
	char		**overrides;	/* -o values (the array is allocated) */
	size_t		 noverrides;
};

/* Takes getopt's ch/arg if it is -c, -w or -o; returns 1 if it was. */
int	cli_config_arg(struct cli_config_args *a, int ch, char *arg);

/* argv[0] is the command name; returns the exit status. */
int	cli_main(enum cli_cmd cmd, int argc, char **argv);
/* rrtcp check / serve -t: 0 and "configuration OK", or 2 with the errors. */
int	cli_check(const char *file, const struct config_opts *opts);
/* Prints the usage text and exits 2 (rrtcp.c). */
void	usage(void) __attribute__((noreturn));

#endif
