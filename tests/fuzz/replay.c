/*
 * replay.c - runs a libFuzzer target over saved inputs without libFuzzer,
 * so `make test` checks every corpus with the normal compiler (and under
 * SANITIZE=...).  Shared by all fuzz targets: it knows only the libFuzzer
 * entry point.
 *
 * usage: replay_<target> dir|file ...
 * Each directory's regular files are run in name order.  Exits 1 when an
 * argument is missing, unreadable or a directory holds no inputs.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Reads path into an exactly sized block, so ASan sees any over-read. */
static int
replay_file(const char *path)
{
	FILE		*fp;
	struct stat	 st;
	uint8_t		*buf;
	size_t		 n;

	if ((fp = fopen(path, "rb")) == NULL || fstat(fileno(fp), &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (fp != NULL)
			fclose(fp);
		return -1;
	}
	n = (size_t)st.st_size;
	if ((buf = malloc(n > 0 ? n : 1)) == NULL ||
	    fread(buf, 1, n, fp) != n) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(buf);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int
replay_dir(const char *dir)
{
	struct dirent	**ents;
	struct stat	 st;
	char		 path[4096];
	int		 i, n, count = 0, rc = 0;

	if ((n = scandir(dir, &ents, NULL, alphasort)) == -1) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode)) {
			if (replay_file(path) == -1)
				rc = -1;
			else
				count++;
		}
		free(ents[i]);
	}
	free(ents);
	printf("replayed %d inputs from %s\n", count, dir);
	if (count == 0) {
		fprintf(stderr, "replay: %s: no inputs\n", dir);
		rc = -1;
	}
	return rc;
}

int
main(int argc, char *argv[])
{
	struct stat	 st;
	int		 i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s dir|file ...\n", argv[0]);
		return 1;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			    strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i]) == -1)
				rc = 1;
		} else if (replay_file(argv[i]) == -1)
			rc = 1;
		else
			printf("replayed 1 input from %s\n", argv[i]);
	}
	return rc;
}
