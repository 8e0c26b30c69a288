/*
 * fuzz_log_json.c - libFuzzer target for base/log_json.c (log_kv_to_json),
 * the key=value -> JSON converter of log_format = json: the text it reads
 * carries peers' bytes (quoted by log.h's rules, or not, for a caller that
 * forgot), so it is a parser of hostile input.
 *
 * Input: any bytes (a NUL ends the text, as in a C string). Checks: the
 * output, wrapped in braces, is one valid JSON object (a small validator
 * here: strings with only the escapes JSON allows and no raw control
 * characters, numbers, members separated by commas); and quoting any input
 * with LOG_Q gives a value that converts back to one member.
 */
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "fuzz.h"

static size_t json_string(const char *s, size_t n, size_t i)
{
	FUZZ_CHECK(i < n && s[i] == '"');
	for (i++; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		FUZZ_CHECK(c >= 0x20);
		if (c == '"')
			return i + 1;
		if (c == '\\') {
			FUZZ_CHECK(i + 1 < n && strchr("\"\\/bfnrtu", s[i + 1]));
			if (s[i + 1] == 'u') {
				FUZZ_CHECK(i + 5 < n);
				for (int k = 2; k < 6; k++)
					FUZZ_CHECK(strchr("0123456789abcdefABCDEF", s[i + k]) && s[i + k]);
				i += 5;
			} else {
				i++;
			}
		}
	}
	FUZZ_CHECK(0 && "unterminated string");
	return n;
}

/* ,"k":v ,"k":v ... ; returns the number of members */
static size_t check_members(const char *s, size_t n)
{
	size_t i = 0, members = 0;
	while (i < n) {
		FUZZ_CHECK(s[i] == ',');
		i = json_string(s, n, i + 1);
		FUZZ_CHECK(i < n && s[i] == ':');
		i++;
		if (i < n && s[i] == '"') {
			i = json_string(s, n, i);
		} else {
			size_t j = i;
			while (j < n && strchr("-0123456789.", s[j]) && s[j])
				j++;
			FUZZ_CHECK(j > i);
			i = j;
		}
		members++;
	}
	return members;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	size_t len = strlen(text);
	struct buf out;
	buf_init(&out);
	log_kv_to_json(text, len, &out);
	check_members(out.data ? out.data : "", out.len);
	/* a quoted value is one member, whatever it holds */
	buf_reset(&out);
	struct buf kv;
	buf_init(&kv);
	buf_printf(&kv, "k=%s", LOG_Q(text));
	log_kv_to_json(kv.data, kv.len, &out);
	FUZZ_CHECK(check_members(out.data, out.len) == 1);
	buf_fini(&kv);
	buf_fini(&out);
	free(text);
	return 0;
}
