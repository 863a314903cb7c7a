// SPDX-License-Identifier: GPL-2.0-only
/*
 * The xl.cfg lexer: bytes to tokens (punctuation, quoted strings, unquoted words, ends of
 * line), with the line of each.  It is the only reader of raw bytes, so it owns the checks
 * on them: line length, control bytes and binary garbage, string length, escapes, UTF-8.
 * Runs in whichever thread parses; no global state.
 */
#include "cfg_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cfg_lex_init(struct cfg_lexer *lx, const char *origin, const char *text, size_t len,
                  unsigned int first_line)
{
	lx->origin = origin;
	lx->p = text;
	lx->end = text + len;
	lx->line = first_line;
}

int cfg_lex_check_lines(const char *origin, const char *text, size_t len, char **ret_error)
{
	const char *p = text, *end = text + len;
	unsigned int line = 1;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (n && p[n - 1] == '\r')
			n--;
		if (n > XENO_CFG_LINE_MAX)
			return cfg_fail(ret_error, -EINVAL, origin, line,
			                "line is %zu bytes long (expected at most %d)", n,
			                XENO_CFG_LINE_MAX);
		if (!nl)
			break;
		p = nl + 1;
		line++;
	}
	return 0;
}

bool cfg_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned int c = *p++, need, cp;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) < need)
			return false;
		for (unsigned int i = 0; i < need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		p += need;
		/* Overlong forms, UTF-16 surrogates, beyond Unicode. */
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
	}
	return true;
}

bool cfg_key_valid(const char *s, size_t len)
{
	if (len == 0 || len > XENO_CFG_KEY_MAX)
		return false;
	if (!(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = s[i];

		if (!(c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static bool all_digits(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!strchr(set, *s))
			return false;
	}
	return true;
}

bool cfg_parse_number(const char *s, long long *ret)
{
	bool neg = s[0] == '-';
	const char *digits = s + neg;
	unsigned long long v;
	char *end;
	int base = 10;

	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
		digits += 2;
		base = 16;
		if (!all_digits(digits, "0123456789abcdefABCDEF"))
			return false;
	} else if (!all_digits(digits, "0123456789")) {
		return false;
	}
	errno = 0;
	v = strtoull(digits, &end, base);
	if (errno || *end)
		return false;
	if (neg) {
		if (v > (unsigned long long)LLONG_MAX + 1)
			return false;
		*ret = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
	} else {
		if (v > (unsigned long long)LLONG_MAX)
			return false;
		*ret = (long long)v;
	}
	return true;
}

/* Bytes that may stand outside strings and comments are printable ASCII, space and tab. */
static int fail_byte(struct cfg_lexer *lx, unsigned char c)
{
	return cfg_fail(lx->ret_error, -EINVAL, lx->origin, lx->line,
	                "unexpected byte 0x%02x (expected text: a config file holds no control "
	                "characters or binary data)",
	                c);
}

static bool is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* A word runs until blank, end of line, punctuation, a quote, a comment or a non-ASCII byte. */
static bool is_word_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("#;=[],'\"", c);
}

static int skip_comment(struct cfg_lexer *lx)
{
	while (lx->p < lx->end && *lx->p != '\n') {
		unsigned char c = (unsigned char)*lx->p;

		if (is_control(c) && !(c == '\r' && lx->p + 1 < lx->end && lx->p[1] == '\n'))
			return fail_byte(lx, c);
		lx->p++;
	}
	return 0;
}

struct strbuf {
	char *s;
	size_t len, cap;
};

static int strbuf_put(struct strbuf *sb, char c)
{
	if (sb->len + 1 >= sb->cap) {
		size_t cap = sb->cap ? sb->cap * 2 : 32;
		char *s = realloc(sb->s, cap);

		if (!s)
			return -ENOMEM;
		sb->s = s;
		sb->cap = cap;
	}
	sb->s[sb->len++] = c;
	sb->s[sb->len] = 0;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads the escape after a backslash in a "" string into *c. */
static int lex_escape(struct cfg_lexer *lx, char *c)
{
	static const char simple[] = "\\\\\"\"''n\nt\tr\r";
	const char *hit;
	int hi, lo;

	if (lx->p >= lx->end || *lx->p == '\n')
		return cfg_fail(lx->ret_error, -EINVAL, lx->origin, lx->line,
		                "unterminated string (expected a closing \" before the end of the "
		                "line)");
	for (hit = simple; *hit; hit += 2) {
		if (*hit == *lx->p) {
			*c = hit[1];
			lx->p++;
			return 0;
		}
	}
	if (*lx->p == 'x' && lx->end - lx->p >= 3 && (hi = hexval(lx->p[1])) >= 0 &&
	    (lo = hexval(lx->p[2])) >= 0 && (hi || lo)) {
		*c = (char)(hi << 4 | lo);
		lx->p += 3;
		return 0;
	}
	if (is_control((unsigned char)*lx->p) || (unsigned char)*lx->p >= 0x80)
		return fail_byte(lx, (unsigned char)*lx->p);
	return cfg_fail(lx->ret_error, -EINVAL, lx->origin, lx->line,
	                "unknown escape '\\%c' in a string (expected \\\\, \\\", \\', \\n, \\t, "
	                "\\r or \\x01 to \\xff)",
	                *lx->p);
}

static int lex_string(struct cfg_lexer *lx, struct cfg_token *tok)
{
	char quote = *lx->p++;
	struct strbuf sb = { NULL, 0, 0 };
	int r;

	for (;;) {
		unsigned char c;
		char out;

		if (lx->p >= lx->end || *lx->p == '\n') {
			r = cfg_fail(lx->ret_error, -EINVAL, lx->origin, tok->line,
			             "unterminated string (expected a closing %c before the end of "
			             "the %s)",
			             quote, lx->p >= lx->end ? "file" : "line");
			goto fail;
		}
		c = (unsigned char)*lx->p;
		if (c == (unsigned char)quote) {
			lx->p++;
			break;
		}
		if (is_control(c) && !(c == '\r' && lx->p + 1 < lx->end && lx->p[1] == '\n')) {
			r = fail_byte(lx, c);
			goto fail;
		}
		lx->p++;
		out = (char)c;
		if (c == '\\' && quote == '"') {
			r = lex_escape(lx, &out);
			if (r < 0)
				goto fail;
		}
		if (sb.len >= XENO_CFG_STRING_MAX) {
			r = cfg_fail(lx->ret_error, -EINVAL, lx->origin, tok->line,
			             "string is longer than %d bytes (expected at most %d)",
			             XENO_CFG_STRING_MAX, XENO_CFG_STRING_MAX);
			goto fail;
		}
		r = strbuf_put(&sb, out);
		if (r < 0)
			goto fail_nomem;
	}
	if (!sb.s && !(sb.s = strdup("")))
		goto fail_nomem;
	if (!cfg_utf8_valid(sb.s, sb.len)) {
		r = cfg_fail(lx->ret_error, -EINVAL, lx->origin, tok->line,
		             "string is not valid UTF-8 (expected UTF-8 text)");
		goto fail;
	}
	tok->type = TOK_STRING;
	tok->text = sb.s;
	tok->len = sb.len;
	return 0;

fail_nomem:
	r = cfg_fail(lx->ret_error, -ENOMEM, lx->origin, 0, "out of memory");
fail:
	free(sb.s);
	return r;
}

static int lex_word(struct cfg_lexer *lx, struct cfg_token *tok)
{
	const char *start = lx->p;

	while (lx->p < lx->end && is_word_byte((unsigned char)*lx->p))
		lx->p++;
	tok->len = (size_t)(lx->p - start);
	tok->text = strndup(start, tok->len);
	if (!tok->text)
		return cfg_fail(lx->ret_error, -ENOMEM, lx->origin, 0, "out of memory");
	tok->type = TOK_WORD;
	return 0;
}

int cfg_lex_next(struct cfg_lexer *lx, struct cfg_token *tok)
{
	static const char punct[] = ";=[],";
	static const enum cfg_token_type punct_type[] = {
		TOK_SEMICOLON, TOK_EQUALS, TOK_LBRACKET, TOK_RBRACKET, TOK_COMMA,
	};
	const char *hit;
	unsigned char c;
	int r;

	memset(tok, 0, sizeof(*tok));
	for (;;) {
		while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
			lx->p++;
		tok->line = lx->line;
		if (lx->p >= lx->end) {
			tok->type = TOK_EOF;
			return 0;
		}
		c = (unsigned char)*lx->p;
		if (c == '#') {
			r = skip_comment(lx);
			if (r < 0)
				return r;
			continue;
		}
		if (c == '\r' && lx->p + 1 < lx->end && lx->p[1] == '\n') {
			lx->p++;
			continue;
		}
		break;
	}
	if (c == '\n') {
		lx->p++;
		if (lx->line)
			lx->line++;
		tok->type = TOK_NEWLINE;
		return 0;
	}
	hit = c ? strchr(punct, c) : NULL;
	if (hit) {
		lx->p++;
		tok->type = punct_type[hit - punct];
		return 0;
	}
	if (c == '\'' || c == '"')
		return lex_string(lx, tok);
	if (is_word_byte(c))
		return lex_word(lx, tok);
	return fail_byte(lx, c);
}

const char *cfg_token_describe(const struct cfg_token *tok, char *buf, size_t len)
{
	switch (tok->type) {
	case TOK_EOF:
		return "the end of the file";
	case TOK_NEWLINE:
		return "the end of the line";
	case TOK_SEMICOLON:
		return "';'";
	case TOK_EQUALS:
		return "'='";
	case TOK_LBRACKET:
		return "'['";
	case TOK_RBRACKET:
		return "']'";
	case TOK_COMMA:
		return "','";
	case TOK_STRING:
		return "a string";
	case TOK_WORD:
		break;
	}
	if (tok->len > 40)
		snprintf(buf, len, "'%.40s...'", tok->text);
	else
		snprintf(buf, len, "'%s'", tok->text);
	return buf;
}
