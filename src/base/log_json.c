/*
 * log_json.c - key=value log text to JSON object members (log_format = json).
 *
 * The text comes from log_msg's callers and holds peers' bytes inside
 * quoted values (log.h's quoting), so this is a parser of hostile input:
 * it never fails, never reads past len, and always produces valid JSON
 * (fuzz/fuzz_log_json.c checks that). Grammar, tokens separated by spaces:
 *   pair  = key "=" value      key = 1*( ALPHA / DIGIT / "_" / "." / "-" )
 *   value = quoted / bare      quoted = '"' *( char / "\"" / "\\" / "\xNN" / "\." ) '"'
 *   word  = anything else up to a space (collected into "text")
 * An unterminated quoted value runs to the end; "\." (a cut value) becomes
 * "..."; an unknown escape keeps its backslash.
 */
#include <stdbool.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/str.h"

/* keys a line may carry before further duplicates go unchecked (they still
 * get a suffix from their position, so they stay unique) */
#define JSON_KEYS_MAX 128
#define JSON_NUM_DIGITS_MAX 15

void log_json_string(const char *s, size_t n, struct buf *out)
{
	static const char hex[] = "0123456789abcdef";
	buf_putc(out, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			size_t k = str_utf8_seq(s + i, n - i);
			if (k) {
				buf_append(out, s + i, k);
				i += k;
			} else {
				/* not UTF-8: keep the octet recoverable (surrogateescape) */
				buf_printf(out, "\\udc%c%c", hex[c >> 4], hex[c & 15]);
				i++;
			}
			continue;
		}
		if (c == '"' || c == '\\') {
			buf_putc(out, '\\');
			buf_putc(out, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(out, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
		} else {
			buf_putc(out, (char)c);
		}
		i++;
	}
	buf_putc(out, '"');
}

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '-';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)? with at most JSON_NUM_DIGITS_MAX digits in
 * all: exact as a double, so a reader gets the logged value back. */
static bool plain_number(const char *s, size_t n)
{
	size_t i = 0, digits = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return false;
	if (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')
		return false;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		i++;
		digits++;
	}
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			i++;
			digits++;
		}
	}
	return i == n && digits <= JSON_NUM_DIGITS_MAX;
}

/* Decode a quoted value starting after its opening quote; *pos ends after
 * the closing quote (or at len). */
static void unquote(const char *s, size_t len, size_t *pos, struct buf *val)
{
	size_t i = *pos;
	while (i < len && s[i] != '"') {
		if (s[i] != '\\' || i + 1 >= len) {
			buf_putc(val, s[i++]);
			continue;
		}
		char e = s[i + 1];
		int h1 = i + 2 < len ? str_hexval(s[i + 2]) : -1, h2 = i + 3 < len ? str_hexval(s[i + 3]) : -1;
		if (e == '"' || e == '\\') {
			buf_putc(val, e);
			i += 2;
		} else if (e == 'x' && h1 >= 0 && h2 >= 0) {
			buf_putc(val, (char)(h1 * 16 + h2));
			i += 4;
		} else if (e == '.') {
			buf_puts(val, "...");
			i += 2;
		} else {
			buf_putc(val, '\\');
			i++;
		}
	}
	*pos = i < len ? i + 1 : len;
}

struct keyset {
	struct buf names; /* NUL-separated */
	size_t n;
};

static bool key_used(const struct keyset *ks, const char *k)
{
	static const char *reserved[] = { "ts", "level", "program", "pid" };
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
		if (strcmp(k, reserved[i]) == 0)
			return true;
	for (size_t o = 0; o < ks->names.len; o += strlen(ks->names.data + o) + 1)
		if (strcmp(ks->names.data + o, k) == 0)
			return true;
	return false;
}

/* The key as emitted: itself, or with the first free suffix _2, _3, ... */
static void unique_key(struct keyset *ks, const char *k, size_t kn, struct buf *name)
{
	buf_reset(name);
	buf_append(name, k, kn);
	if (ks->n < JSON_KEYS_MAX) {
		for (int sfx = 2; key_used(ks, name->data); sfx++) {
			buf_reset(name);
			buf_append(name, k, kn);
			buf_printf(name, "_%d", sfx);
		}
		buf_append(&ks->names, name->data, name->len + 1);
	} else {
		buf_printf(name, "_%zu", ks->n + 1);
	}
	ks->n++;
}

void log_kv_to_json(const char *s, size_t len, struct buf *out)
{
	struct keyset ks;
	buf_init(&ks.names);
	ks.n = 0;
	struct buf text, val, name;
	buf_init(&text);
	buf_init(&val);
	buf_init(&name);
	size_t i = 0;
	while (i < len) {
		if (s[i] == ' ') {
			i++;
			continue;
		}
		size_t k0 = i;
		while (i < len && key_char(s[i]))
			i++;
		if (i > k0 && i < len && s[i] == '=') {
			size_t kn = i - k0;
			i++;
			buf_reset(&val);
			bool quoted = i < len && s[i] == '"';
			if (quoted) {
				i++;
				unquote(s, len, &i, &val);
			} else {
				size_t v0 = i;
				while (i < len && s[i] != ' ')
					i++;
				buf_append(&val, s + v0, i - v0);
			}
			unique_key(&ks, s + k0, kn, &name);
			buf_putc(out, ',');
			log_json_string(name.data, name.len, out);
			buf_putc(out, ':');
			if (!quoted && plain_number(val.data, val.len))
				buf_append(out, val.data, val.len);
			else
				log_json_string(val.data, val.len, out);
			continue;
		}
		/* a word: up to the next space */
		i = k0;
		while (i < len && s[i] != ' ')
			i++;
		if (text.len)
			buf_putc(&text, ' ');
		buf_append(&text, s + k0, i - k0);
	}
	if (text.len) {
		unique_key(&ks, "text", 4, &name);
		buf_putc(out, ',');
		log_json_string(name.data, name.len, out);
		buf_putc(out, ':');
		log_json_string(text.data, text.len, out);
	}
	buf_fini(&text);
	buf_fini(&val);
	buf_fini(&name);
	buf_fini(&ks.names);
}
