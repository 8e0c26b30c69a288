/*
 * fuzz_scan_wire.c - libFuzzer target for what the gateway reads from its
 * scanner processes and their supervisor (scan/proc/scan_proc_wire.c), and
 * for the edit lists it applies (mail/mail_edit.c): a compromised scanner
 * may send any bytes.
 *
 * Input: one payload (the first octet picks the message type, as on the
 * wire). Invariants: a decoded answer encodes and decodes again to the
 * same fields; an edit list that passes mail_edits_check() applies to a
 * message of the checked length with exactly the length it announced and
 * never reads past it (ASan); a Bayes learning payload that decodes has
 * sorted, distinct, non-zero keys within SCAN_LEARN_MAX_KEYS and encodes
 * back to the same text; every other decoder refuses or fills its struct
 * without reading past the input.
 */
#include <string.h>

#include "base/buf.h"
#include "fuzz.h"
#include "mail/mail_edit.h"
#include "scan/proc/scan_proc_int.h"

static void answer(const uint8_t *data, size_t size)
{
	struct spm_ans a, b;
	char err[200];
	if (spm_ans_decode(data, size, &a, err, sizeof err) < 0) {
		FUZZ_CHECK(err[0] != '\0');
		spm_ans_fini(&a);
		return;
	}
	struct buf f;
	buf_init(&f);
	spm_ans_encode(&a, &f);
	FUZZ_CHECK(spm_ans_decode((const uint8_t *)f.data + 4, f.len - 4, &b, err, sizeof err) == 0);
	FUZZ_CHECK(a.id == b.id && a.flags == b.flags && a.edits.n == b.edits.n && a.tempfail == b.tempfail);
	/* the edits against a message as long as the input */
	uint64_t len = size;
	if (mail_edits_check(&a.edits, len, len + 4096, err, sizeof err) == 0) {
		struct buf out;
		buf_init(&out);
		mail_edits_apply(&a.edits, (const char *)data, size, &out);
		FUZZ_CHECK(out.len == mail_edits_result_len(&a.edits, len) && out.len <= len + 4096);
		buf_fini(&out);
	}
	struct scan_report r;
	scan_report_init(&r);
	if (a.report)
		(void)scan_report_decode(a.report, &r);
	scan_report_fini(&r);
	struct scan_learn l;
	if (a.learn && scan_learn_decode(a.learn, &l) == 0) {
		FUZZ_CHECK(l.nkeys <= SCAN_LEARN_MAX_KEYS);
		for (size_t i = 0; i < l.nkeys; i++)
			FUZZ_CHECK(l.keys[i] && (i == 0 || l.keys[i - 1] < l.keys[i]));
		struct buf e;
		buf_init(&e);
		scan_learn_encode(&l, &e);
		/* the same payload, but for leading zeros in the expiry and case in the hex digits */
		struct scan_learn l2;
		FUZZ_CHECK(scan_learn_decode(e.data, &l2) == 0 && l2.nkeys == l.nkeys && l2.msg_key == l.msg_key &&
			   l2.expiry_max == l.expiry_max &&
			   (l.nkeys == 0 || memcmp(l.keys, l2.keys, l.nkeys * sizeof *l.keys) == 0));
		scan_learn_fini(&l2);
		buf_fini(&e);
		scan_learn_fini(&l);
	}
	buf_fini(&f);
	spm_ans_fini(&a);
	spm_ans_fini(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char err[200];
	switch (data[0]) {
	case SPM_ANSWER: answer(data, size); break;
	case SPM_SCAN:
	case SPM_APPLY: {
		struct spm_req q;
		if (spm_req_decode(data, size, &q, err, sizeof err) < 0)
			FUZZ_CHECK(err[0] != '\0');
		spm_req_fini(&q);
		break;
	}
	case SPM_LOAD: {
		struct spm_settings st;
		(void)spm_load_decode(data, size, &st, err, sizeof err);
		spm_settings_fini(&st);
		break;
	}
	case SPM_LOADED: {
		struct spm_loaded l;
		if (spm_loaded_decode(data, size, &l) == 0)
			FUZZ_CHECK(strlen(l.err) < sizeof l.err && strlen(l.info.describe) < sizeof l.info.describe);
		break;
	}
	default: {
		unsigned id, gen;
		pid_t pid;
		uint32_t why;
		int32_t sysno;
		struct spm_exited e;
		if (spm_scanner_decode(data, size, &id, &pid, &gen) == 0)
			FUZZ_CHECK(pid > 0);
		(void)spm_exited_decode(data, size, &e);
		(void)spm_kill_decode(data, size, &id);
		(void)spm_death_decode(data, size, &why, &sysno);
		break;
	}
	}
	return 0;
}
