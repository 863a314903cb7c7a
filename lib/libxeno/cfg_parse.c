// SPDX-License-Identifier: GPL-2.0-only
/*
 * The xl.cfg grammar and the generic layer of <xeno/cfg.h>: files and command-line
 * assignments to an ordered list of settings with a hash index, typed getters, and the
 * messages every layer shares.  The grammar (libxlu's, with ';' as a separator):
 *
 *     file    := { [ setting ] ( NEWLINE | ';' ) } [ setting ] EOF
 *     setting := KEY '=' value
 *     value   := STRING | INTEGER | '[' { NEWLINE } [ item { ',' item } [ ',' ] ] ']'
 *     item    := { NEWLINE } ( STRING | INTEGER ) { NEWLINE }
 *
 * Runs in whichever thread calls; no global state.
 */
#include "cfg_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Messages ---- */

/*
 * Messages repeat what the user wrote, which may hold control characters (a "\n" escape, a
 * file name): write them as \xHH so that a message stays one printable line.  Frees s.
 */
static char *one_line(char *s)
{
	size_t n = 0;
	char *out, *o;

	for (const char *p = s; *p; p++)
		n += ((unsigned char)*p < 0x20 || *p == 0x7f) ? 4 : 1;
	if (n == strlen(s))
		return s;
	out = malloc(n + 1);
	if (out) {
		o = out;
		for (const char *p = s; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				o += sprintf(o, "\\x%02x", (unsigned char)*p);
			else
				*o++ = *p;
		}
		*o = 0;
	}
	free(s);
	return out;
}

int cfg_fail(char **ret_error, int err, const char *origin, unsigned int line, const char *fmt, ...)
{
	char *msg = NULL, *full = NULL;
	va_list ap;
	int n;

	if (!ret_error)
		return err;
	*ret_error = NULL;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return err;
	if (line)
		n = asprintf(&full, "%s:%u: %s", origin, line, msg);
	else
		n = asprintf(&full, "%s: %s", origin, msg);
	free(msg);
	*ret_error = n < 0 ? NULL : one_line(full);
	return err;
}

/*
 * Optimal string alignment distance (Levenshtein plus adjacent transpositions, so that
 * "memroy" is one edit from "memory").  Both words are at most XENO_CFG_KEY_MAX bytes.
 */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[3][XENO_CFG_KEY_MAX + 1];

	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *cur = d[i % 3], *prev = d[(i - 1) % 3], *prev2 = d[(i + 1) % 3];

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = prev[j - 1] + cost;

			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[la % 3][lb];
}

const char *cfg_suggest(const char *word, const char *const *candidates, size_t n)
{
	size_t best = (size_t)-1, len = strlen(word);
	const char *hit = NULL;

	if (len > XENO_CFG_KEY_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t d;

		if (strlen(candidates[i]) > XENO_CFG_KEY_MAX)
			continue;
		d = edit_distance(word, candidates[i]);
		/* Close enough to be a typo, and not a rewrite of a short word. */
		if (d < best && d <= 2 && d < len && d < strlen(candidates[i])) {
			best = d;
			hit = candidates[i];
		}
	}
	return hit;
}

int cfg_fail_unknown_key(char **ret_error, const struct cfg_setting *s,
                         const char *const *candidates, size_t n)
{
	const char *hint = cfg_suggest(s->key, candidates, n);

	if (hint)
		return cfg_fail(ret_error, -EINVAL, s->origin, s->line,
		                "unknown key '%s' (did you mean '%s'?)", s->key, hint);
	return cfg_fail(ret_error, -EINVAL, s->origin, s->line,
	                "unknown key '%s' (expected one of the keys in xeno.cfg(5))", s->key);
}

/* ---- Values and the settings index ---- */

const char *cfg_value_kind(const struct cfg_value *v)
{
	switch (v->type) {
	case CFG_STRING:
		return "a string";
	case CFG_NUMBER:
		return "an integer";
	case CFG_LIST:
		break;
	}
	return "a list";
}

void cfg_value_free(struct cfg_value *v)
{
	free(v->str);
	for (size_t i = 0; i < v->n_items; i++)
		cfg_value_free(&v->items[i]);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

static uint32_t hash_key(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}

static size_t index_slot(const struct xeno_cfg *cfg, const char *key)
{
	size_t mask = cfg->index_cap - 1, i = hash_key(key) & mask;

	while (cfg->index[i] && strcmp(cfg->settings[cfg->index[i] - 1].key, key))
		i = (i + 1) & mask;
	return i;
}

/* The position of key's setting in cfg->settings, or -1. */
static ssize_t find_setting(const struct xeno_cfg *cfg, const char *key)
{
	size_t i;

	if (!cfg->index_cap)
		return -1;
	i = index_slot(cfg, key);
	return (ssize_t)cfg->index[i] - 1;
}

const struct cfg_setting *cfg_find(const struct xeno_cfg *cfg, const char *key)
{
	ssize_t i = find_setting(cfg, key);

	return i < 0 ? NULL : &cfg->settings[i];
}

/* Keeps the index at most half full, so probes stay short. */
static int index_grow(struct xeno_cfg *cfg)
{
	size_t cap = cfg->index_cap ? cfg->index_cap * 2 : 64;
	uint32_t *old = cfg->index;

	if ((cfg->n_settings + 1) * 2 <= cfg->index_cap)
		return 0;
	cfg->index = calloc(cap, sizeof(*cfg->index));
	if (!cfg->index) {
		cfg->index = old;
		return -ENOMEM;
	}
	cfg->index_cap = cap;
	for (size_t i = 0; i < cfg->n_settings; i++)
		cfg->index[index_slot(cfg, cfg->settings[i].key)] = (uint32_t)(i + 1);
	free(old);
	return 0;
}

/* Appends a setting, taking key and the value; the caller has checked it is new. */
static int add_setting(struct xeno_cfg *cfg, char *key, struct cfg_value *value, const char *origin,
                       unsigned int line)
{
	struct cfg_setting *s;

	if (index_grow(cfg) < 0)
		return -ENOMEM;
	if (cfg->n_settings == cfg->cap_settings) {
		size_t cap = cfg->cap_settings ? cfg->cap_settings * 2 : 16;

		s = realloc(cfg->settings, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		cfg->settings = s;
		cfg->cap_settings = cap;
	}
	s = &cfg->settings[cfg->n_settings];
	s->key = key;
	s->value = *value;
	s->origin = origin;
	s->line = line;
	cfg->index[index_slot(cfg, key)] = (uint32_t)(++cfg->n_settings);
	memset(value, 0, sizeof(*value));
	return 0;
}

void xeno_cfg_free(struct xeno_cfg *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_settings; i++) {
		free(cfg->settings[i].key);
		cfg_value_free(&cfg->settings[i].value);
	}
	free(cfg->settings);
	free(cfg->index);
	free(cfg->name);
	free(cfg);
}

/* ---- The grammar ---- */

static int fail_nomem(struct cfg_lexer *lx)
{
	return cfg_fail(lx->ret_error, -ENOMEM, lx->origin, 0, "out of memory");
}

/* A string or integer token into v; anything else is a message. */
static int parse_atom(struct cfg_lexer *lx, struct cfg_token *tok, const char *key,
                      struct cfg_value *v)
{
	char buf[64];

	v->line = tok->line;
	if (tok->type == TOK_STRING) {
		v->type = CFG_STRING;
		v->str = tok->text;
		tok->text = NULL;
		return 0;
	}
	if (tok->type != TOK_WORD)
		return cfg_fail(
		        lx->ret_error, -EINVAL, lx->origin, tok->line,
		        "%s: expected a value (a quoted string, an integer or a list), got %s", key,
		        cfg_token_describe(tok, buf, sizeof(buf)));
	if ((tok->text[0] >= '0' && tok->text[0] <= '9') || tok->text[0] == '-') {
		if (!cfg_parse_number(tok->text, &v->num))
			return cfg_fail(lx->ret_error, -EINVAL, lx->origin, tok->line,
			                "%s: %s is not an integer (expected decimal digits, or 0x "
			                "and hexadecimal digits, within 64 bits)",
			                key, cfg_token_describe(tok, buf, sizeof(buf)));
		v->type = CFG_NUMBER;
		return 0;
	}
	return cfg_fail(lx->ret_error, -EINVAL, lx->origin, tok->line,
	                "%s: bare word %s (expected a quoted string such as \"%.40s\", an integer "
	                "or a list)",
	                key, cfg_token_describe(tok, buf, sizeof(buf)), tok->text);
}

static int next_skipping_newlines(struct cfg_lexer *lx, struct cfg_token *tok)
{
	int r;

	do {
		r = cfg_lex_next(lx, tok);
	} while (r == 0 && tok->type == TOK_NEWLINE);
	return r;
}

static int list_append(struct cfg_lexer *lx, struct cfg_value *list, unsigned int open_line,
                       const char *key, struct cfg_value *item)
{
	struct cfg_value *items;

	if (list->n_items == XENO_CFG_LIST_MAX)
		return cfg_fail(lx->ret_error, -EINVAL, lx->origin, open_line,
		                "%s: list has more than %d items (expected at most %d)", key,
		                XENO_CFG_LIST_MAX, XENO_CFG_LIST_MAX);
	items = realloc(list->items, (list->n_items + 1) * sizeof(*items));
	if (!items)
		return fail_nomem(lx);
	list->items = items;
	list->items[list->n_items++] = *item;
	memset(item, 0, sizeof(*item));
	return 0;
}

static int parse_list(struct cfg_lexer *lx, unsigned int open_line, const char *key,
                      struct cfg_value *list)
{
	struct cfg_token tok;
	struct cfg_value item;
	char buf[64];
	int r;

	list->type = CFG_LIST;
	list->line = open_line;
	for (;;) {
		r = next_skipping_newlines(lx, &tok);
		if (r < 0)
			return r;
		if (tok.type == TOK_RBRACKET)
			return 0; /* empty list, or after a trailing comma */
		if (tok.type == TOK_EOF)
			goto unterminated;
		if (tok.type == TOK_LBRACKET)
			return cfg_fail(lx->ret_error, -EINVAL, lx->origin, tok.line,
			                "%s: a list inside a list (expected strings or integers)",
			                key);
		memset(&item, 0, sizeof(item));
		r = parse_atom(lx, &tok, key, &item);
		free(tok.text);
		if (r == 0)
			r = list_append(lx, list, open_line, key, &item);
		cfg_value_free(&item);
		if (r < 0)
			return r;
		r = next_skipping_newlines(lx, &tok);
		if (r < 0)
			return r;
		if (tok.type == TOK_RBRACKET)
			return 0;
		if (tok.type == TOK_EOF)
			goto unterminated;
		if (tok.type != TOK_COMMA) {
			r = cfg_fail(lx->ret_error, -EINVAL, lx->origin, tok.line,
			             "%s: expected ',' or ']' after a list item, got %s", key,
			             cfg_token_describe(&tok, buf, sizeof(buf)));
			free(tok.text);
			return r;
		}
	}
unterminated:
	return cfg_fail(lx->ret_error, -EINVAL, lx->origin, open_line,
	                "%s: unterminated list (expected ']' before the end of the file)", key);
}

int cfg_parse_value(struct cfg_lexer *lx, struct cfg_token *first, const char *key,
                    struct cfg_value *ret)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	if (first->type == TOK_LBRACKET)
		r = parse_list(lx, first->line, key, ret);
	else
		r = parse_atom(lx, first, key, ret);
	free(first->text);
	first->text = NULL;
	if (r < 0)
		cfg_value_free(ret);
	return r;
}

/* KEY '=' value, the key's token already read; then the end of the setting. */
static int parse_setting(struct xeno_cfg *cfg, struct cfg_lexer *lx, struct cfg_token *keytok)
{
	const struct cfg_setting *dup;
	struct cfg_value value;
	struct cfg_token tok;
	char buf[64], *key = keytok->text;
	int r;

	if (!cfg_key_valid(key, keytok->len)) {
		r = cfg_fail(lx->ret_error, -EINVAL, lx->origin, keytok->line,
		             "bad key name %s (expected a letter or '_', then letters, digits, '_' "
		             "or '-', at most %d bytes)",
		             cfg_token_describe(keytok, buf, sizeof(buf)), XENO_CFG_KEY_MAX);
		goto out_key;
	}
	r = cfg_lex_next(lx, &tok);
	if (r < 0)
		goto out_key;
	if (tok.type != TOK_EQUALS) {
		r = cfg_fail(lx->ret_error, -EINVAL, lx->origin, tok.line,
		             "expected '=' after '%s', got %s", key,
		             cfg_token_describe(&tok, buf, sizeof(buf)));
		free(tok.text);
		goto out_key;
	}
	r = cfg_lex_next(lx, &tok);
	if (r < 0)
		goto out_key;
	r = cfg_parse_value(lx, &tok, key, &value);
	if (r < 0)
		goto out_key;
	r = cfg_lex_next(lx, &tok);
	if (r < 0)
		goto out_value;
	if (tok.type != TOK_NEWLINE && tok.type != TOK_SEMICOLON && tok.type != TOK_EOF) {
		r = cfg_fail(lx->ret_error, -EINVAL, lx->origin, tok.line,
		             "%s: expected the end of the line or ';' after the value, got %s", key,
		             cfg_token_describe(&tok, buf, sizeof(buf)));
		free(tok.text);
		goto out_value;
	}
	dup = cfg_find(cfg, key);
	if (dup) {
		r = cfg_fail(lx->ret_error, -EINVAL, lx->origin, keytok->line,
		             "duplicate key '%s' (first set on line %u; expected each key once)",
		             key, dup->line);
		goto out_value;
	}
	r = add_setting(cfg, key, &value, cfg->name, keytok->line);
	if (r < 0) {
		r = fail_nomem(lx);
		goto out_value;
	}
	/* A setting may end the file: hand back EOF so the caller stops. */
	keytok->type = tok.type;
	keytok->text = NULL;
	return 0;

out_value:
	cfg_value_free(&value);
out_key:
	free(key);
	keytok->text = NULL;
	return r;
}

static int parse_all(struct xeno_cfg *cfg, const char *text, size_t len, char **ret_error)
{
	struct cfg_lexer lx;
	struct cfg_token tok;
	char buf[64];
	int r;

	r = cfg_lex_check_lines(cfg->name, text, len, ret_error);
	if (r < 0)
		return r;
	/* A UTF-8 byte order mark, as some editors write, is not part of the text. */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		text += 3;
		len -= 3;
	}
	cfg_lex_init(&lx, cfg->name, text, len, 1);
	lx.ret_error = ret_error;
	for (;;) {
		r = cfg_lex_next(&lx, &tok);
		if (r < 0)
			return r;
		if (tok.type == TOK_WORD) {
			r = parse_setting(cfg, &lx, &tok);
			if (r < 0)
				return r;
		} else if (tok.type != TOK_NEWLINE && tok.type != TOK_SEMICOLON &&
		           tok.type != TOK_EOF) {
			r = cfg_fail(ret_error, -EINVAL, cfg->name, tok.line,
			             "expected a setting (key = value), got %s",
			             cfg_token_describe(&tok, buf, sizeof(buf)));
			free(tok.text);
			return r;
		}
		if (tok.type == TOK_EOF)
			return 0;
	}
}

int xeno_cfg_parse_string(const char *name, const char *text, size_t len, struct xeno_cfg **ret,
                          char **ret_error)
{
	struct xeno_cfg *cfg;
	int r;

	if (ret_error)
		*ret_error = NULL;
	if (!ret)
		return cfg_fail(ret_error, -EINVAL, name ? name : "?", 0,
		                "no place for the result");
	*ret = NULL;
	if (!name || !text)
		return cfg_fail(ret_error, -EINVAL, name ? name : "?", 0,
		                "a name and a text are required");
	if (len > XENO_CFG_FILE_MAX)
		return cfg_fail(ret_error, -EFBIG, name, 0,
		                "%zu bytes is too large for a config file (expected at most %d)",
		                len, XENO_CFG_FILE_MAX);
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->name = strdup(name))) {
		free(cfg);
		return cfg_fail(ret_error, -ENOMEM, name, 0, "out of memory");
	}
	r = parse_all(cfg, text, len, ret_error);
	if (r < 0) {
		xeno_cfg_free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

int xeno_cfg_parse_file(const char *path, struct xeno_cfg **ret, char **ret_error)
{
	size_t len = 0, cap = XENO_CFG_FILE_MAX + 1;
	struct stat st;
	char *text;
	int fd, r;

	if (ret_error)
		*ret_error = NULL;
	if (!ret || !path)
		return cfg_fail(ret_error, -EINVAL, path ? path : "?", 0,
		                "a path and a place for the result are required");
	*ret = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cfg_fail(ret_error, -errno, path, 0, "%s", strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		return cfg_fail(ret_error, -EISDIR, path, 0, "is a directory (expected a file)");
	}
	text = malloc(cap);
	if (!text) {
		close(fd);
		return cfg_fail(ret_error, -ENOMEM, path, 0, "out of memory");
	}
	/* Read one byte past the limit to tell a full file from a larger one. */
	while (len < cap) {
		ssize_t n = read(fd, text + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = cfg_fail(ret_error, -errno, path, 0, "%s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > XENO_CFG_FILE_MAX) {
		r = cfg_fail(ret_error, -EFBIG, path, 0,
		             "larger than %d bytes (expected a config file of at most %d)",
		             XENO_CFG_FILE_MAX, XENO_CFG_FILE_MAX);
		goto out;
	}
	r = xeno_cfg_parse_string(path, text, len, ret, ret_error);
out:
	free(text);
	close(fd);
	return r;
}

/* ---- Command-line assignments ---- */

static int parse_assigned_value(const char *key, const char *text, struct cfg_value *v,
                                char **ret_error)
{
	struct cfg_lexer lx;
	struct cfg_token tok;
	char buf[64];
	int r;

	cfg_lex_init(&lx, CFG_ORIGIN_COMMAND_LINE, text, strlen(text), 0);
	lx.ret_error = ret_error;
	r = cfg_lex_next(&lx, &tok);
	if (r < 0)
		return r;
	r = cfg_parse_value(&lx, &tok, key, v);
	if (r < 0)
		return r;
	r = next_skipping_newlines(&lx, &tok);
	if (r == 0 && tok.type != TOK_EOF) {
		r = cfg_fail(ret_error, -EINVAL, CFG_ORIGIN_COMMAND_LINE, 0,
		             "%s: expected the end of the value, got %s", key,
		             cfg_token_describe(&tok, buf, sizeof(buf)));
		free(tok.text);
	}
	if (r < 0)
		cfg_value_free(v);
	return r;
}

/* A bare word: any text, as long as it is text and fits a string. */
static int bare_string(const char *key, const char *text, struct cfg_value *v, char **ret_error)
{
	size_t len = strlen(text);

	if (len > XENO_CFG_STRING_MAX)
		return cfg_fail(ret_error, -EINVAL, CFG_ORIGIN_COMMAND_LINE, 0,
		                "%s: value is longer than %d bytes (expected at most %d)", key,
		                XENO_CFG_STRING_MAX, XENO_CFG_STRING_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return cfg_fail(ret_error, -EINVAL, CFG_ORIGIN_COMMAND_LINE, 0,
			                "%s: unexpected byte 0x%02x in the value (expected text)",
			                key, c);
	}
	if (!cfg_utf8_valid(text, len))
		return cfg_fail(ret_error, -EINVAL, CFG_ORIGIN_COMMAND_LINE, 0,
		                "%s: value is not valid UTF-8 (expected UTF-8 text)", key);
	v->type = CFG_STRING;
	v->str = strdup(text);
	if (!v->str)
		return cfg_fail(ret_error, -ENOMEM, CFG_ORIGIN_COMMAND_LINE, 0, "out of memory");
	return 0;
}

static const char *trim(char *s)
{
	char *end = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = 0;
	return s;
}

int xeno_cfg_set(struct xeno_cfg *cfg, const char *assignment, char **ret_error)
{
	char *copy, *eq, *key = NULL;
	const char *name, *text;
	struct cfg_setting *s;
	struct cfg_value v;
	ssize_t i;
	int r;

	if (ret_error)
		*ret_error = NULL;
	memset(&v, 0, sizeof(v));
	if (!cfg || !assignment)
		return cfg_fail(ret_error, -EINVAL, CFG_ORIGIN_COMMAND_LINE, 0,
		                "a config and an assignment are required");
	if (strlen(assignment) > XENO_CFG_LINE_MAX)
		return cfg_fail(ret_error, -EINVAL, CFG_ORIGIN_COMMAND_LINE, 0,
		                "assignment is longer than %d bytes (expected at most %d)",
		                XENO_CFG_LINE_MAX, XENO_CFG_LINE_MAX);
	copy = strdup(assignment);
	if (!copy)
		return cfg_fail(ret_error, -ENOMEM, CFG_ORIGIN_COMMAND_LINE, 0, "out of memory");
	eq = strchr(copy, '=');
	if (eq)
		*eq = 0;
	name = trim(copy);
	if (!eq || !cfg_key_valid(name, strlen(name))) {
		r = cfg_fail(ret_error, -EINVAL, CFG_ORIGIN_COMMAND_LINE, 0,
		             "'%.64s' is not an assignment (expected VAR=VALUE, VAR a key name)",
		             assignment);
		goto out;
	}
	text = trim(eq + 1);
	if (text[0] == '\'' || text[0] == '"' || text[0] == '[') {
		r = parse_assigned_value(name, text, &v, ret_error);
	} else if (cfg_parse_number(text, &v.num)) {
		v.type = CFG_NUMBER;
		r = 0;
	} else {
		r = bare_string(name, text, &v, ret_error);
	}
	if (r < 0)
		goto out;
	v.line = 0;
	i = find_setting(cfg, name);
	if (i >= 0) {
		s = &cfg->settings[i];
		cfg_value_free(&s->value);
		s->value = v;
		s->origin = CFG_ORIGIN_COMMAND_LINE;
		s->line = 0;
		r = 0;
		goto out;
	}
	key = strdup(name);
	if (!key || add_setting(cfg, key, &v, CFG_ORIGIN_COMMAND_LINE, 0) < 0) {
		free(key);
		cfg_value_free(&v);
		r = cfg_fail(ret_error, -ENOMEM, CFG_ORIGIN_COMMAND_LINE, 0, "out of memory");
	}
out:
	free(copy);
	return r;
}

/* ---- Typed getters ---- */

static int get_value(const struct xeno_cfg *cfg, const char *key, const struct cfg_setting **ret,
                     char **ret_error)
{
	if (ret_error)
		*ret_error = NULL;
	*ret = NULL;
	if (!cfg || !key)
		return cfg_fail(ret_error, -EINVAL, "?", 0, "a config and a key are required");
	*ret = cfg_find(cfg, key);
	return *ret ? 0 : -ENOENT;
}

static int fail_type(const struct cfg_setting *s, const char *expected, char **ret_error)
{
	return cfg_fail(ret_error, -EINVAL, s->origin, s->line, "%s: expected %s, got %s", s->key,
	                expected, cfg_value_kind(&s->value));
}

int xeno_cfg_get_string(const struct xeno_cfg *cfg, const char *key, const char **ret,
                        char **ret_error)
{
	const struct cfg_setting *s;
	int r = get_value(cfg, key, &s, ret_error);

	if (r < 0)
		return r;
	if (s->value.type != CFG_STRING)
		return fail_type(s, "a string", ret_error);
	*ret = s->value.str;
	return 0;
}

int xeno_cfg_get_int(const struct xeno_cfg *cfg, const char *key, long long min, long long max,
                     long long *ret, char **ret_error)
{
	const struct cfg_setting *s;
	int r = get_value(cfg, key, &s, ret_error);

	if (r < 0)
		return r;
	if (s->value.type != CFG_NUMBER)
		return fail_type(s, "an integer", ret_error);
	if (s->value.num < min || s->value.num > max)
		return cfg_fail(ret_error, -EINVAL, s->origin, s->line,
		                "%s: %lld is out of range (expected %lld to %lld)", key,
		                s->value.num, min, max);
	*ret = s->value.num;
	return 0;
}

int xeno_cfg_get_bool(const struct xeno_cfg *cfg, const char *key, bool *ret, char **ret_error)
{
	static const char *const words[] = { "no", "yes", "false", "true", "off", "on" };
	const struct cfg_setting *s;
	int r = get_value(cfg, key, &s, ret_error);

	if (r < 0)
		return r;
	if (s->value.type == CFG_NUMBER && (s->value.num == 0 || s->value.num == 1)) {
		*ret = s->value.num == 1;
		return 0;
	}
	if (s->value.type == CFG_STRING) {
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
			if (!strcasecmp(s->value.str, words[i])) {
				*ret = i % 2;
				return 0;
			}
		}
	}
	return cfg_fail(ret_error, -EINVAL, s->origin, s->line,
	                "%s: expected a boolean (0 or 1, or 'yes', 'no', 'true', 'false', 'on', "
	                "'off'), got %s",
	                key, cfg_value_kind(&s->value));
}

int xeno_cfg_get_list(const struct xeno_cfg *cfg, const char *key, const char ***ret,
                      size_t *ret_count, char **ret_error)
{
	const struct cfg_setting *s;
	const struct cfg_value *v;
	const char **arr;
	size_t n;
	int r = get_value(cfg, key, &s, ret_error);

	if (r < 0)
		return r;
	v = &s->value;
	if (v->type == CFG_NUMBER)
		return fail_type(s, "a list of strings", ret_error);
	n = v->type == CFG_LIST ? v->n_items : 1;
	for (size_t i = 0; v->type == CFG_LIST && i < n; i++) {
		if (v->items[i].type != CFG_STRING)
			return cfg_fail(ret_error, -EINVAL, s->origin, v->items[i].line,
			                "%s: item %zu: expected a string, got %s", key, i + 1,
			                cfg_value_kind(&v->items[i]));
	}
	arr = calloc(n + 1, sizeof(*arr));
	if (!arr)
		return cfg_fail(ret_error, -ENOMEM, s->origin, 0, "out of memory");
	for (size_t i = 0; i < n; i++)
		arr[i] = v->type == CFG_LIST ? v->items[i].str : v->str;
	*ret = arr;
	*ret_count = n;
	return 0;
}

unsigned int xeno_cfg_line(const struct xeno_cfg *cfg, const char *key)
{
	const struct cfg_setting *s = cfg ? cfg_find(cfg, key) : NULL;

	return s ? s->line : 0;
}

int xeno_cfg_check_keys(const struct xeno_cfg *cfg, const char *const *keys, char **ret_error)
{
	size_t n = 0;

	if (ret_error)
		*ret_error = NULL;
	if (!cfg || !keys)
		return cfg_fail(ret_error, -EINVAL, "?", 0, "a config and a key list are required");
	while (keys[n])
		n++;
	for (size_t i = 0; i < cfg->n_settings; i++) {
		bool known = false;

		for (size_t k = 0; k < n && !known; k++)
			known = !strcmp(cfg->settings[i].key, keys[k]);
		if (!known)
			return cfg_fail_unknown_key(ret_error, &cfg->settings[i], keys, n);
	}
	return 0;
}
