/*
 * test_scan_mime_corpus.c - the MIME walk over the shared corpus of real
 * messages (../shared/corpus beside the repository, or $MXGATE_CORPUS):
 * every file parses (under ASan in the asan build) with the invariants of
 * the views, each one is cleaned of its last part and the result parses
 * again with CRLF lines only; the messages MANIFEST.tsv tags EICAR have a
 * part whose decoded data holds the EICAR string and those tagged GTUBE
 * have it in body[] (each such file must be named in SOURCES.md). Prints
 * the counts and the parse time. Skipped when the corpus is absent.
 */
#include "unit.h"

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "scan/mime/scan_msg.h"

#define EICAR "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
#define GTUBE "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

struct corpus_stats {
	unsigned long files, parts, malformed, truncated, cleaned, eicar_ok, gtube_ok;
	double parse_s;
	size_t bytes;
};

static bool read_file(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_append(b, tmp, n);
	fclose(f);
	return true;
}

/* The corpus directory, or false when there is none. */
static bool corpus_dir(char *out, size_t size)
{
	const char *env = getenv("MXGATE_CORPUS");
	struct stat st;
	if (env && *env) {
		snprintf(out, size, "%s", env);
		return stat(out, &st) == 0 && S_ISDIR(st.st_mode);
	}
	/* the repository is the nearest ancestor of this binary with src/scan */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	for (char *slash = strrchr(exe, '/'); slash; slash = strrchr(exe, '/')) {
		*slash = '\0';
		char probe[PATH_MAX + 16];
		snprintf(probe, sizeof probe, "%s/src/scan", exe);
		if (stat(probe, &st) == 0 && S_ISDIR(st.st_mode)) {
			if ((size_t)snprintf(out, size, "%s/../shared/corpus", exe) >= size)
				return false;
			return stat(out, &st) == 0 && S_ISDIR(st.st_mode);
		}
	}
	return false;
}

static bool has_text(const char *s, size_t n, const char *needle)
{
	return memmem(s, n, needle, strlen(needle)) != NULL;
}

static void check_file(const char *path, const char *tags, struct corpus_stats *st)
{
	struct buf raw;
	buf_init(&raw);
	if (!read_file(path, &raw)) {
		unit_failf(__FILE__, __LINE__, "cannot read %s", path);
		return;
	}
	unit_input(path, NULL, 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct scan_msg *m = scan_msg_parse(raw.data ? raw.data : "", raw.len, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	st->parse_s += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	st->files++;
	st->bytes += raw.len;
	st->parts += m->nparts;
	st->malformed += (m->flags & SCAN_MSG_F_MALFORMED) != 0;
	st->truncated += (m->flags & SCAN_MSG_F_TRUNCATED) != 0;
	U_CHECK(m->nbody >= 1 && m->body_off <= raw.len);
	for (size_t i = 0; i < m->nbody; i++)
		U_CHECK(m->body[i].s[m->body[i].len] == '\0');
	for (size_t i = 0; i < m->nrawbody; i++)
		U_CHECK(m->rawbody[i].s[m->rawbody[i].len] == '\0');
	bool eicar = false, gtube = false;
	for (size_t i = 0; i < m->nparts; i++)
		eicar |= has_text((const char *)m->parts[i].data, m->parts[i].len, EICAR);
	for (size_t i = 0; i < m->nbody; i++)
		gtube |= has_text(m->body[i].s, m->body[i].len, GTUBE);
	if (strstr(tags, "EICAR")) {
		if (eicar)
			st->eicar_ok++;
		else
			unit_failf(__FILE__, __LINE__, "%s: no part with the EICAR string", path);
	}
	if (strstr(tags, "GTUBE")) {
		if (gtube)
			st->gtube_ok++;
		else
			unit_failf(__FILE__, __LINE__, "%s: GTUBE not in body[]", path);
	}
	if (m->nparts > 0) {
		const char *paths[] = { m->parts[m->nparts - 1].path }, *why[] = { "Corpus.Test" };
		struct buf out;
		buf_init(&out);
		size_t k = scan_msg_clean(raw.data, raw.len, paths, why, 1, &out);
		if (k) {
			st->cleaned++;
			for (size_t i = 0; i < out.len; i++)
				if (out.data[i] == '\n' && (i == 0 || out.data[i - 1] != '\r')) {
					unit_failf(__FILE__, __LINE__, "%s: bare LF in cleaned output", path);
					break;
				}
			struct scan_msg *again = scan_msg_parse(out.data, out.len, NULL);
			U_CHECK(again->nbody >= 1);
			scan_msg_free(&again);
		}
		buf_fini(&out);
	}
	scan_msg_free(&m);
	buf_fini(&raw);
}

static void test_corpus(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	if (!corpus_dir(dir, sizeof dir)) {
		printf("corpus: not found (../shared/corpus or $MXGATE_CORPUS): skipped\n");
		skip();
	}
	char p[PATH_MAX + 64];
	struct buf manifest, sources;
	buf_init(&manifest);
	buf_init(&sources);
	snprintf(p, sizeof p, "%s/MANIFEST.tsv", dir);
	assert_true(read_file(p, &manifest));
	snprintf(p, sizeof p, "%s/SOURCES.md", dir);
	assert_true(read_file(p, &sources));
	struct corpus_stats st = { 0 };
	unsigned long want_eicar = 0, want_gtube = 0;
	/* MANIFEST.tsv: path, bytes, sha256, eol, max_line_len, tags */
	char *save = NULL;
	for (char *line = strtok_r(manifest.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[6] = { 0 };
		size_t nf = 0;
		for (char *q = line; nf < 6; nf++) {
			f[nf] = q;
			char *tab = strchr(q, '\t');
			if (!tab)
				break;
			*tab = '\0';
			q = tab + 1;
		}
		if (nf < 5 || strcmp(f[0], "path") == 0)
			continue;
		const char *tags = f[5] ? f[5] : "";
		if (strstr(tags, "EICAR") || strstr(tags, "GTUBE")) {
			const char *base = strrchr(f[0], '/') ? strrchr(f[0], '/') + 1 : f[0];
			if (!strstr(sources.data, base))
				unit_failf(__FILE__, __LINE__, "%s is tagged %s but not named in SOURCES.md", f[0], tags);
			want_eicar += strstr(tags, "EICAR") != NULL;
			want_gtube += strstr(tags, "GTUBE") != NULL;
		}
		snprintf(p, sizeof p, "%s/%s", dir, f[0]);
		check_file(p, tags, &st);
	}
	printf("corpus: %lu files, %.1f MiB, %lu parts, %lu malformed, %lu truncated, %lu cleaned+reparsed; "
	       "EICAR %lu/%lu, GTUBE %lu/%lu; parse %.3f s (%.1f MiB/s)\n",
	       st.files, (double)st.bytes / (1 << 20), st.parts, st.malformed, st.truncated, st.cleaned, st.eicar_ok,
	       want_eicar, st.gtube_ok, want_gtube, st.parse_s,
	       st.parse_s > 0 ? (double)st.bytes / (1 << 20) / st.parse_s : 0.0);
	U_CHECK(st.files > 1000);
	U_CHECK(want_eicar >= 2 && want_gtube >= 10);
	buf_fini(&manifest);
	buf_fini(&sources);
	UNIT_FINISH();
}

int main(void)
{
	scan_mime_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
	};
	UNIT_MAIN(tests);
}
