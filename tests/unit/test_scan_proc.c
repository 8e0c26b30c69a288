/*
 * test_scan_proc.c - scan/proc/: the wire format (round trips, hostile
 * frames), mail/mail_edit.c (edit lists), and the scanner processes for
 * real: a supervisor and two sandboxed scanners on the built-in rules and
 * libclamav with the test signatures, their verdicts and edit lists, the
 * faults a scanner can suffer (crash, hang past the timeout, memory limit,
 * a system call its filter forbids) and a reload to a new generation.
 */
#include "unit.h"

#include <event2/event.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "mail/mail_edit.h"
#include "scan/proc/scan_proc.h"
#include "scan/proc/scan_proc_int.h"

/* ---------------------------------------------------------------- edit lists */

struct edit_case {
	const char *name, *raw;
	struct {
		uint64_t off, len;
		const char *text;
	} e[4];
	size_t n;
	int ok;
	const char *want;
};

static const struct edit_case edit_cases[] = {
	{ "none", "abc", { { 0, 0, NULL } }, 0, 1, "abc" },
	{ "insert at start", "abc", { { 0, 0, "X" } }, 1, 1, "Xabc" },
	{ "insert at end", "abc", { { 3, 0, "X" } }, 1, 1, "abcX" },
	{ "replace middle", "abcdef", { { 2, 2, "XYZ" } }, 1, 1, "abXYZef" },
	{ "delete", "abcdef", { { 1, 4, "" } }, 1, 1, "af" },
	{ "two edits", "Subject: a\r\nB: c\r\n\r\nbody", { { 0, 12, "Subject: {Spam?} a\r\n" }, { 18, 0, "X-Spam: yes\r\n" } }, 2, 1,
	  "Subject: {Spam?} a\r\nB: c\r\nX-Spam: yes\r\n\r\nbody" },
	{ "whole replaced", "abc", { { 0, 3, "new" } }, 1, 1, "new" },
	{ "out of order", "abcdef", { { 3, 1, "X" }, { 1, 1, "Y" } }, 2, 0, NULL },
	{ "overlap", "abcdef", { { 1, 3, "X" }, { 2, 1, "Y" } }, 2, 0, NULL },
	{ "past the end", "abc", { { 2, 2, "X" } }, 1, 0, NULL },
	{ "offset past the end", "abc", { { 4, 0, "X" } }, 1, 0, NULL },
	{ "huge length", "abc", { { 1, UINT64_MAX, "X" } }, 1, 0, NULL },
};

static void check_edit(const struct edit_case *c)
{
	unit_case(c->name, c->raw, strlen(c->raw));
	struct mail_edits e;
	mail_edits_init(&e);
	for (size_t i = 0; i < c->n; i++) {
		/* built directly: mail_edits_add would merge or accept what the check must refuse */
		e.v = xgrow(e.v, &e.cap, e.n + 1, sizeof *e.v);
		e.v[e.n++] = (struct mail_edit){ c->e[i].off, c->e[i].len, xstrdup(c->e[i].text), strlen(c->e[i].text) };
	}
	char err[200] = "";
	int rc = mail_edits_check(&e, strlen(c->raw), 1 << 20, err, sizeof err);
	U_EQ_INT(rc == 0, c->ok);
	if (rc == 0) {
		struct buf out;
		buf_init(&out);
		mail_edits_apply(&e, c->raw, strlen(c->raw), &out);
		U_EQ_MEM(out.data ? out.data : "", out.len, c->want, strlen(c->want));
		U_EQ_INT(mail_edits_result_len(&e, strlen(c->raw)), strlen(c->want));
		buf_fini(&out);
	}
	mail_edits_fini(&e);
}

static void test_edits(void **state)
{
	(void)state;
	UNIT_RUN_TABLE(edit_cases, check_edit);
	/* merging: an insertion where the previous edit ends joins it */
	unit_case("merge", NULL, 0);
	struct mail_edits e;
	mail_edits_init(&e);
	mail_edits_add(&e, 2, 3, "R", 1);
	mail_edits_add(&e, 5, 0, "I", 1);
	mail_edits_add(&e, 7, 0, "J", 1);
	U_EQ_INT(e.n, 2);
	U_EQ_STR(e.v[0].text, "RI");
	char err[100];
	U_EQ_INT(mail_edits_check(&e, 10, 100, err, sizeof err), 0);
	U_EQ_INT(mail_edits_check(&e, 10, 9, err, sizeof err), -1); /* the output bound */
	mail_edits_fini(&e);
	UNIT_FINISH();
}

/* ---------------------------------------------------------------- wire */

static void test_wire(void **state)
{
	(void)state;
	unit_case("request round trip", NULL, 0);
	const char *rc[] = { "a@example.org", "b@example.org" };
	struct scan_report rep;
	scan_report_init(&rep);
	scan_report_add_dnsbl(&rep, "bl.test", "127.0.0.2", "listed", 3);
	struct scan_proc_job job = { .kind = SCAN_PROC_SCAN, .off = 77, .len = 1234, .qid = "Q1", .client_ip = "192.0.2.1",
				     .helo = "mx.example", .sender = "s@example.org", .rcpt = rc, .nrcpt = 2,
				     .report = &rep };
	struct buf b;
	buf_init(&b);
	spm_req_encode(&job, SPM_SCAN, 9, &b);
	U_EQ_INT(b.len >= 4, 1);
	struct spm_req q;
	char err[200];
	U_EQ_INT(spm_req_decode((const uint8_t *)b.data + 4, b.len - 4, &q, err, sizeof err), 0);
	U_EQ_INT(q.id, 9);
	U_EQ_INT(q.off, 77);
	U_EQ_INT(q.len, 1234);
	U_EQ_STR(q.helo, "mx.example");
	U_EQ_INT(q.nrcpt, 2);
	U_EQ_STR(q.nrcpt == 2 ? q.rcpt[1] : NULL, "b@example.org");
	U_CONTAINS(q.report, "dnsbl=bl.test");
	spm_req_fini(&q);
	/* every truncation of the frame is refused or read as a shorter request, never read past */
	for (size_t n = 0; n + 4 < b.len; n++) {
		if (spm_req_decode((const uint8_t *)b.data + 4, n, &q, err, sizeof err) == 0)
			U_CHECK(n == 1 || q.id == 9);
		spm_req_fini(&q);
	}
	scan_report_fini(&rep);

	unit_case("answer round trip", NULL, 0);
	struct spm_ans a, d;
	memset(&a, 0, sizeof a);
	a.id = 5;
	a.flags = SCAN_ACT_DELIVER | SCAN_ACT_TAG;
	a.changed = true;
	a.report = xstrdup("v=1 cat=spam cats=5");
	mail_edits_add(&a.edits, 0, 4, "Subj\0x", 6);
	mail_edits_add(&a.edits, 10, 0, "H: v\r\n", 6);
	buf_reset(&b);
	spm_ans_encode(&a, &b);
	U_EQ_INT(spm_ans_decode((const uint8_t *)b.data + 4, b.len - 4, &d, err, sizeof err), 0);
	U_EQ_INT(d.id, 5);
	U_EQ_INT(d.flags, SCAN_ACT_DELIVER | SCAN_ACT_TAG);
	U_EQ_INT(d.edits.n, 2);
	U_EQ_MEM(d.edits.n ? d.edits.v[0].text : "", d.edits.n ? d.edits.v[0].tlen : 0, "Subj\0x", 6);
	U_EQ_INT(d.edits.n == 2 ? d.edits.v[1].off : 0, 10);
	spm_ans_fini(&d);
	spm_ans_fini(&a);

	unit_case("hostile answers", NULL, 0);
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
	} bad[] = {
		{ "empty", "", 0 },
		{ "wrong type", "\x01", 1 },
		{ "short field header", "\x03\x01\x00", 3 },
		{ "length past the end", "\x03\x01\x00\xff\xff\xff\x7f", 7 },
		{ "unknown field", "\x03\x63\x00\x00\x00\x00\x00", 7 },
		{ "id not 8 octets", "\x03\x01\x00\x01\x00\x00\x00\x05", 8 },
		{ "NUL in the error", "\x03\x16\x00\x02\x00\x00\x00x\x00", 9 },
		{ "edit shorter than its numbers", "\x03\x1a\x00\x04\x00\x00\x00\x00\x00\x00\x00", 11 },
		{ "flag not 0 or 1", "\x03\x18\x00\x08\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00", 15 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unit_case(bad[i].name, bad[i].bytes, bad[i].len);
		U_EQ_INT(spm_ans_decode((const uint8_t *)bad[i].bytes, bad[i].len, &d, err, sizeof err), -1);
		spm_ans_fini(&d);
	}

	unit_case("death note", NULL, 0);
	uint8_t f[4 + SPM_DEATH_LEN];
	spm_death_build(f, SPM_DEATH_SYSCALL, 257);
	uint32_t why;
	int32_t sysno;
	U_EQ_INT(spm_death_decode(f + 4, SPM_DEATH_LEN, &why, &sysno), 0);
	U_EQ_INT(why, SPM_DEATH_SYSCALL);
	U_EQ_INT(sysno, 257);
	U_EQ_INT(spm_death_decode(f + 4, SPM_DEATH_LEN - 1, &why, &sysno), -1);

	unit_case("settings round trip", NULL, 0);
	struct scan_proc_settings s = {
		.scan = { .virus_scanner = "none", .spam_scanner = "builtin", .spam_rules = "builtin",
			  .spam_threshold = 4.5, .timeout_ms = 1000, .virus_max_size = 1u << 30 },
		.policy = { .actions = { "deliver", "deliver tag", "deliver tag", "deliver tag", "deliver tag",
					 "quarantine deliver-cleaned tag" },
			    .tag = { "", "{B}", "{S}", "{S}", "{U}", "{V}" }, .tag_subject = true, .hostname = "h.example" },
		.proc = { .processes = 3, .user = "", .timeout_ms = 500, .memory_limit = 1u << 28, .sandbox = true },
	};
	buf_reset(&b);
	spm_load_encode(&s, 7, &b);
	struct spm_settings st;
	U_EQ_INT(spm_load_decode((const uint8_t *)b.data, b.len, &st, err, sizeof err), 0);
	U_EQ_INT(st.gen, 7);
	U_EQ_STR(st.s.scan.spam_scanner, "builtin");
	U_CHECK(st.s.scan.spam_threshold == 4.5);
	U_EQ_INT(st.s.scan.virus_max_size, 1u << 30);
	U_EQ_STR(st.s.policy.actions[5], "quarantine deliver-cleaned tag");
	U_EQ_STR(st.s.policy.tag[2], "{S}");
	U_EQ_INT(st.s.proc.processes, 3);
	U_EQ_INT(st.s.proc.sandbox, 1);
	U_EQ_INT(st.s.policy.tag_subject, 1);
	spm_settings_fini(&st);
	buf_fini(&b);
	UNIT_FINISH();
}

/* ---------------------------------------------------------------- scanner processes */

/* A message file in /tmp; returns an open read-write descriptor (as a draft is). */
static int message_file(const char *text)
{
	char path[] = "/tmp/mxgate-scanproc-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

#define HDRS "From: a@example.org\r\nTo: b@example.org\r\nMessage-ID: <t1@example.org>\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
static const char CLEAN[] = HDRS "Subject: hello\r\n\r\nA clean message.\r\n";
static const char GTUBE[] = HDRS "Subject: cheap\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n";
static const char VIRUS[] = HDRS "Subject: report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
				 "--b1\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n"
				 "--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=x.bin\r\n\r\n"
				 "MXGATE-TEST-VIRUS-MARKER-7f3a\r\n--b1--\r\n";
#define FAULTY(m) HDRS "Subject: fault\r\n\r\n" m "\r\n"

struct run {
	struct event_base *base;
	int pending;
	struct {
		enum scan_proc_status st;
		char cat[32];
		char error[400];
		unsigned flags;
		char content[4096];
		size_t cleaned;
	} r[16];
	const char *msgs[16];
	int fds[16];
};

struct slot {
	struct run *run;
	int i;
};

static void on_slot(void *arg, struct scan_proc_result *res)
{
	struct slot *s = arg;
	struct run *run = s->run;
	run->r[s->i].st = res->status;
	snprintf(run->r[s->i].cat, sizeof run->r[s->i].cat, "%s", scan_cat_name(res->report.cat));
	snprintf(run->r[s->i].error, sizeof run->r[s->i].error, "%s", res->report.error ? res->report.error : "");
	run->r[s->i].flags = res->flags;
	run->r[s->i].cleaned = res->cleaned;
	struct buf out;
	buf_init(&out);
	const char *raw = run->msgs[s->i];
	char err[200];
	if (mail_edits_check(&res->edits, strlen(raw), 1 << 20, err, sizeof err) == 0)
		mail_edits_apply(&res->edits, raw, strlen(raw), &out);
	snprintf(run->r[s->i].content, sizeof run->r[s->i].content, "%s", out.data ? out.data : "");
	buf_fini(&out);
	if (--run->pending == 0)
		event_base_loopbreak(run->base);
}

static void run_jobs(struct scan_proc *p, struct run *run, const char *const *msgs, size_t n)
{
	struct slot slots[16];
	run->pending = (int)n;
	for (size_t i = 0; i < n; i++) {
		run->msgs[i] = msgs[i];
		run->fds[i] = message_file(msgs[i]);
		slots[i] = (struct slot){ run, (int)i };
		struct scan_proc_job job = { .kind = SCAN_PROC_SCAN, .fd = run->fds[i], .len = strlen(msgs[i]),
					     .qid = "TESTQ", .client_ip = "192.0.2.1", .helo = "mx.example",
					     .sender = "a@example.org" };
		scan_proc_submit(p, &job, on_slot, &slots[i]);
	}
	struct timeval limit = { 60, 0 };
	event_base_loopexit(run->base, &limit);
	event_base_dispatch(run->base);
	assert_int_equal(run->pending, 0);
	for (size_t i = 0; i < n; i++)
		close(run->fds[i]);
}

static char av_spec[4200];

static void settings(struct scan_proc_settings *s, double threshold)
{
	char cwd[4096];
	snprintf(av_spec, sizeof av_spec, "libclamav:%s/tests/data/clamav", getcwd(cwd, sizeof cwd) ? cwd : ".");
	*s = (struct scan_proc_settings){
		.scan = { .virus_scanner = av_spec, .spam_scanner = "builtin", .spam_rules = "builtin",
			  .spam_threshold = threshold, .spam_high_threshold = threshold * 20, .timeout_ms = 10000,
			  .spam_max_size = 1u << 20, .virus_max_size = 1u << 24 },
		.policy = { .actions = { "deliver", "deliver tag", "deliver tag", "deliver tag", "deliver tag",
					 "quarantine deliver-cleaned tag" },
			    .tag = { "", "{Blocklisted?}", "{Spam?}", "{Spam?}", "{Unscannable?}", "{Virus?}" },
			    .tag_subject = true, .headers_on_clean = true, .header_prefix = "X-mxgate", .spam_prefix = "X-Spam",
			    .hostname = "gw.example" },
		.proc = { .processes = 2, .user = "", .timeout_ms = 2000, .memory_limit = 256u << 20, .cpu_limit_s = 30,
			  .max_scans = 1000, .sandbox = true },
	};
}

static void test_processes(void **state)
{
	(void)state;
	setenv("MXGATE_TEST_SCAN_FAULT",
	       "FAULT-CRASH-1=crash,FAULT-HANG-1=hang,FAULT-MEMORY-1=memory,FAULT-SYSCALL-1=syscall", 1);
	struct scan_proc_settings s;
	settings(&s, 5.0);
	struct scan_proc_gen_info info;
	char err[600] = "";
	struct scan_proc *p = scan_proc_start(&s, (uid_t)-1, (gid_t)-1, err, sizeof err);
	if (!p || scan_proc_ready(p, 60, &info, err, sizeof err) < 0)
		fail_msg("scan_proc_start: %s", err);
	assert_int_equal(info.gen, 1);
	assert_true(info.has_av);
	struct run run;
	memset(&run, 0, sizeof run);
	run.base = event_base_new();
	scan_proc_attach(p, run.base);

	unit_case("verdicts", NULL, 0);
	const char *const m1[] = { CLEAN, GTUBE, VIRUS };
	run_jobs(p, &run, m1, 3);
	U_EQ_INT(run.r[0].st, SCAN_PROC_OK);
	U_EQ_STR(run.r[0].cat, "clean");
	U_CONTAINS(run.r[0].content, "X-mxgate-Scan: clean");
	U_CONTAINS(run.r[0].content, "\r\n\r\nA clean message.\r\n");
	U_EQ_STR(run.r[1].cat, "high-spam");
	U_CONTAINS(run.r[1].content, "Subject: {Spam?} cheap\r\n");
	U_EQ_STR(run.r[2].cat, "virus");
	U_EQ_HEX(run.r[2].flags, SCAN_ACT_QUARANTINE | SCAN_ACT_CLEAN | SCAN_ACT_TAG);
	U_EQ_INT(run.r[2].cleaned, 1);
	U_CONTAINS(run.r[2].content, "Subject: {Virus?} report");
	U_CHECK(!strstr(run.r[2].content, "MXGATE-TEST-VIRUS-MARKER"));

	unit_case("faults", NULL, 0);
	const char *const m2[] = { FAULTY("FAULT-CRASH-1"), FAULTY("FAULT-SYSCALL-1"), FAULTY("FAULT-MEMORY-1"),
				   FAULTY("FAULT-HANG-1"), CLEAN };
	run_jobs(p, &run, m2, 5);
	U_EQ_INT(run.r[0].st, SCAN_PROC_LOST);
	U_CONTAINS(run.r[0].error, "ended unexpectedly");
	U_EQ_INT(run.r[1].st, SCAN_PROC_LOST);
	U_CONTAINS(run.r[1].error, "system-call filter (openat)");
	U_EQ_INT(run.r[2].st, SCAN_PROC_LOST);
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer's allocator may end the process itself when its own mmap fails (its
	 * "Failed to mmap"), before malloc returns NULL to our hook */
	U_CHECK(strstr(run.r[2].error, "scan_memory_limit") || strstr(run.r[2].error, "ended unexpectedly"));
#else
	U_CONTAINS(run.r[2].error, "scan_memory_limit");
#endif
	U_EQ_INT(run.r[3].st, SCAN_PROC_LOST);
	U_CONTAINS(run.r[3].error, "timed out");
	U_EQ_INT(run.r[4].st, SCAN_PROC_OK); /* replaced scanners go on */
	struct scan_proc_stats st;
	scan_proc_stats(p, &st);
	U_EQ_INT(st.lost, 4);
	U_EQ_INT(st.timeouts, 1);
	U_EQ_INT(st.killed_filter, 1);

	unit_case("reload", NULL, 0);
	settings(&s, 2000.0); /* GTUBE (1000) is no longer spam */
	if (scan_proc_load(p, &s, 60, &info, err, sizeof err) < 0)
		fail_msg("scan_proc_load: %s", err);
	U_EQ_INT(info.gen, 2);
	U_CHECK(info.av_kept);
	const char *const m3[] = { GTUBE, CLEAN };
	run_jobs(p, &run, m3, 2);
	U_EQ_STR(run.r[0].cat, "clean");
	U_EQ_INT(run.r[1].st, SCAN_PROC_OK);
	unit_case("bad reload keeps the generation", NULL, 0);
	s.scan.spam_rules = "/nonexistent/rules.cf";
	U_EQ_INT(scan_proc_load(p, &s, 60, &info, err, sizeof err), -1);
	U_CONTAINS(err, "spam_rules");
	run_jobs(p, &run, m3, 1);
	U_EQ_STR(run.r[0].cat, "clean");

	scan_proc_stop(&p);
	event_base_free(run.base);
	unsetenv("MXGATE_TEST_SCAN_FAULT");
	UNIT_FINISH();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edits),
		cmocka_unit_test(test_wire),
		cmocka_unit_test(test_processes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
