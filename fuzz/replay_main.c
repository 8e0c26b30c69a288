/*
 * replay_main.c - run a fuzz target over files without libFuzzer.
 *
 * Linked with one fuzz/fuzz_*.c, it calls LLVMFuzzerTestOneInput once per
 * regular file named on the command line, recursing into directories, so a
 * corpus replays as an ordinary test (under ASan/UBSan in the asan build).
 * A bug aborts or crashes (the failure signal); a path that cannot be read
 * is an error (exit 1), so a mistyped corpus path does not pass silently.
 * Each input is copied into a buffer of exactly its size, so overreads are
 * caught as they are under libFuzzer.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path, unsigned long *count)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	unsigned char *buf = malloc(cap);
	if (!buf)
		abort();
	size_t n;
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(buf);
		return -1;
	}
	unsigned char *exact = malloc(len ? len : 1);
	if (!exact)
		abort();
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	(*count)++;
	return 0;
}

static int replay_path(const char *path, unsigned long *count)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? replay_file(path, count) : 0;
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort); /* sorted: runs are repeatable */
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		const char *e = names[i]->d_name;
		if (strcmp(e, ".") != 0 && strcmp(e, "..") != 0) {
			size_t l = strlen(path) + strlen(e) + 2;
			char *child = malloc(l);
			if (!child)
				abort();
			snprintf(child, l, "%s/%s", path, e);
			if (replay_path(child, count) < 0)
				rc = -1;
			free(child);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		if (replay_path(argv[i], &count) < 0)
			rc = 1;
	}
	printf("replayed %lu inputs\n", count);
	return rc;
}
