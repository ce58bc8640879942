/* test/fuzz/replay.c — feeds every file under the directories named to a
 * fuzz target's LLVMFuzzerTestOneInput, without libFuzzer: `make test`
 * replays the corpora and the regression inputs this way, under ASan and
 * UBSan (test/fuzz/replay.sh runs each). A sanitizer's report or a failed
 * FUZZ_CHECK aborts; otherwise it says how many inputs it fed, and fails
 * if there were none. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long size;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) || !(data = malloc(size ? (size_t)size : 1)) ||
	    fread(data, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "%s: cannot read\n", path);
		exit(1);
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, (size_t)size);
	free(data);
	return 1;
}

static int replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	int n = 0;

	if (!d)
		return 0; /* no regressions yet */
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			n += replay_file(path);
		}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	int n = 0;

	for (int i = 1; i < argc; i++)
		n += replay_dir(argv[i]);
	printf("%d inputs\n", n);
	return !n;
}
