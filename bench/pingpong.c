/*
 * pingpong.c - the cost of one worker hop: parent -> child -> parent over two
 * pipes, blocking read()/write(), like rrtcp and its workers.
 *
 * For each message size the parent writes a message into pipe A, the child
 * reads it whole and writes it back through pipe B, the parent reads it whole.
 * One round trip is two hops (two writes, two reads, two wake-ups).  Prints
 * round trips/s and ns per hop, plus a RESULT line per size for run.sh.
 *
 * -a P,C pins the parent to CPU P and the child to CPU C (default: inherit
 * the caller's affinity, e.g. from taskset).
 */
#include <sys/wait.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
full_io(int fd, uint8_t *p, size_t n, int rd)
{
	while (n > 0) {
		ssize_t k = rd ? read(fd, p, n) : write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			exit(1);	/* the peer is gone */
		p += k;
		n -= (size_t)k;
	}
}

static void
pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		perror("pingpong: sched_setaffinity");
}

/* Returns ns per round trip over iters round trips of size bytes. */
static double
run(size_t size, long iters, int cpu_parent, int cpu_child)
{
	int a[2], b[2];
	uint8_t *buf;
	pid_t pid;
	uint64_t t0, t1;
	long i;

	buf = calloc(1, size);
	if (buf == NULL || pipe(a) < 0 || pipe(b) < 0) {
		perror("pingpong");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("pingpong: fork");
		exit(1);
	}
	if (pid == 0) {
		pin(cpu_child);
		close(a[1]);
		close(b[0]);
		for (;;) {
			ssize_t k;
			size_t got = 0;

			/* EOF on the first byte ends the child cleanly. */
			while (got < size) {
				k = read(a[0], buf + got, size - got);
				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0)
					_exit(0);
				got += (size_t)k;
			}
			full_io(b[1], buf, size, 0);
		}
	}
	pin(cpu_parent);
	close(a[0]);
	close(b[1]);
	/* Warm up: page faults, first wake-ups. */
	for (i = 0; i < iters / 10 + 1; i++) {
		full_io(a[1], buf, size, 0);
		full_io(b[0], buf, size, 1);
	}
	t0 = now_ns();
	for (i = 0; i < iters; i++) {
		full_io(a[1], buf, size, 0);
		full_io(b[0], buf, size, 1);
	}
	t1 = now_ns();
	close(a[1]);
	close(b[0]);
	waitpid(pid, NULL, 0);
	free(buf);
	return (double)(t1 - t0) / (double)iters;
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = { 64, 4096 };
	long iters = 100000;
	int cp = -1, cc = -1, ch;
	unsigned i;

	while ((ch = getopt(argc, argv, "n:a:")) != -1) {
		switch (ch) {
		case 'n':
			iters = atol(optarg);
			break;
		case 'a':
			if (sscanf(optarg, "%d,%d", &cp, &cc) != 2) {
				fprintf(stderr, "pingpong: -a parent,child\n");
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: pingpong [-n iters] "
			    "[-a cpu_parent,cpu_child]\n");
			return 2;
		}
	}
	if (iters < 1)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double rt = run(sizes[i], iters, cp, cc);

		fprintf(stderr, "%zu B: %.0f round trips/s, %.0f ns per round "
		    "trip, %.0f ns per hop\n", sizes[i], 1e9 / rt, rt, rt / 2);
		printf("RESULT mode=pingpong size=%zu iters=%ld rt_per_s=%.0f "
		    "ns_per_rt=%.0f ns_per_hop=%.0f\n", sizes[i], iters,
		    1e9 / rt, rt, rt / 2);
	}
	return 0;
}
