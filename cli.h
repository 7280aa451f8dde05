/*
 * cli.h - the operator commands: check, workers, reset, stop.  They talk to a
 * running rrtcp over its RPC socket (JSON codec) or through its pid file.
 */
#ifndef RRTCP_CLI_H
#define RRTCP_CLI_H

struct config_opts;

enum cli_cmd {
	CLI_CHECK,
	CLI_WORKERS,
	CLI_RESET,
	CLI_STOP
};

/* argv[0] is the command name; returns the exit status. */
int	cli_main(enum cli_cmd cmd, int argc, char **argv);
/* rrtcp check / serve -t: 0 and "configuration OK", or 2 with the errors. */
int	cli_check(const char *file, const struct config_opts *opts);
/* Prints the usage text and exits 2 (rrtcp.c). */
void	usage(void) __attribute__((noreturn));

#endif
