/*
 * waitready.c - wait until a server's log file shows its ready line.
 *
 * rrtcp (and echo_floor) write a line containing "msg=ready" to stderr once
 * every worker has passed its handshake and the listeners are open.  run.sh
 * sends that stderr to a file, starts this tool, and gets back how long
 * startup took.  The file is polled every millisecond, so the figure is
 * accurate to about 1 ms; -s takes the start time as bash's $EPOCHREALTIME
 * ("seconds.micros", CLOCK_REALTIME) taken just before the server was
 * launched.
 *
 * Prints "ready_ms=N" and exits 0; exits 1 on timeout, 2 if -p's process
 * died first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Gone or a zombie (the shell that started it has not reaped it yet). */
static int
dead(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p == NULL || p[1] == '\0' || p[2] == 'Z' || p[2] == 'X';
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *file = NULL, *pat = "msg=ready";
	double start = now_s(), timeout = 30, deadline;
	char buf[65536];
	size_t have = 0;
	long off = 0;
	pid_t pid = 0;
	int ch;

	while ((ch = getopt(argc, argv, "f:s:t:p:m:")) != -1) {
		switch (ch) {
		case 'f': file = optarg; break;
		case 's': start = atof(optarg); break;
		case 't': timeout = atof(optarg); break;
		case 'p': pid = (pid_t)atoi(optarg); break;
		case 'm': pat = optarg; break;
		default:
			fprintf(stderr, "usage: waitready -f log [-s start] "
			    "[-t timeout] [-p pid] [-m pattern]\n");
			return 2;
		}
	}
	if (file == NULL)
		return 2;
	deadline = now_s() + timeout;
	for (;;) {
		FILE *f = fopen(file, "r");

		if (f != NULL) {
			size_t n;

			/* Keep a tail so a pattern cut by a read is found. */
			fseek(f, off, SEEK_SET);
			while ((n = fread(buf + have, 1, sizeof(buf) - 1 - have,
			    f)) > 0) {
				double t = now_s();

				have += n;
				off += (long)n;
				buf[have] = '\0';
				if (strstr(buf, pat) != NULL) {
					printf("ready_ms=%.1f\n",
					    (t - start) * 1e3);
					fclose(f);
					return 0;
				}
				if (have > 256) {
					memmove(buf, buf + have - 256, 256);
					have = 256;
				}
			}
			fclose(f);
		}
		if (pid > 0 && dead(pid))
			return 2;
		if (now_s() > deadline)
			return 1;
		usleep(1000);
	}
}
