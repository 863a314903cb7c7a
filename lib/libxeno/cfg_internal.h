/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the xl.cfg parser's files share: the parsed representation, the lexer's tokens, the
 * message helper and the domain layer's working state.  Private to libxeno.  Same threading
 * as <xeno/cfg.h>: no global state, one object per caller.
 */
#ifndef XENO_LIBXENO_CFG_INTERNAL_H
#define XENO_LIBXENO_CFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xeno/cfg.h>

#include "vmm/config.h" /* xeno-vmm's limits: vCPUs, disks, NICs, command line */

/* What messages call the origin of settings made by xeno_cfg_set(). */
#define CFG_ORIGIN_COMMAND_LINE "command line"

/* ---- Parsed values ---- */

enum cfg_value_type { CFG_STRING, CFG_NUMBER, CFG_LIST };

struct cfg_value {
	enum cfg_value_type type;
	unsigned int line;       /* where the value starts; 0 for an override */
	char *str;               /* CFG_STRING: NUL-terminated, valid UTF-8, no NUL inside */
	long long num;           /* CFG_NUMBER */
	struct cfg_value *items; /* CFG_LIST: strings and numbers, never lists */
	size_t n_items;
};

struct cfg_setting {
	char *key;
	struct cfg_value value;
	const char *origin; /* the file's name (borrowed from the cfg) or the command line */
	unsigned int line;  /* line of the key; 0 for an override */
};

struct xeno_cfg {
	char *name;                   /* the file's name in messages */
	struct cfg_setting *settings; /* in file order, then overrides */
	size_t n_settings, cap_settings;
	uint32_t *index; /* open addressing over keys: setting index + 1, 0 is a free slot */
	size_t index_cap;
};

/* The setting of key, or NULL. */
const struct cfg_setting *cfg_find(const struct xeno_cfg *cfg, const char *key);

/* "a string", "an integer", "a list": what a value is, for messages. */
const char *cfg_value_kind(const struct cfg_value *v);

void cfg_value_free(struct cfg_value *v);

/* ---- Messages ---- */

/*
 * Sets *ret_error (if ret_error) to "ORIGIN:LINE: " (or "ORIGIN: " when line is 0) followed
 * by the formatted message, and returns err.  Never fails: without memory, *ret_error is
 * NULL and err is still returned.
 */
int cfg_fail(char **ret_error, int err, const char *origin, unsigned int line, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/* The key among candidates[0..n) closest to word (typos, transpositions), or NULL. */
const char *cfg_suggest(const char *word, const char *const *candidates, size_t n);

/* The message for an unknown key, with a suggestion when one is close. */
int cfg_fail_unknown_key(char **ret_error, const struct cfg_setting *s,
                         const char *const *candidates, size_t n);

/* ---- Lexer ---- */

enum cfg_token_type {
	TOK_EOF,
	TOK_NEWLINE,
	TOK_SEMICOLON,
	TOK_EQUALS,
	TOK_LBRACKET,
	TOK_RBRACKET,
	TOK_COMMA,
	TOK_STRING, /* a quoted string, escapes resolved */
	TOK_WORD,   /* an unquoted run: a key name, an integer, or a bare word in error */
};

struct cfg_token {
	enum cfg_token_type type;
	unsigned int line;
	char *text; /* TOK_STRING and TOK_WORD: malloc'd, owned by whoever takes the token */
	size_t len;
};

struct cfg_lexer {
	const char *origin;
	const char *p, *end;
	unsigned int line; /* 0 stays 0: an override has no lines */
	char **ret_error;
};

void cfg_lex_init(struct cfg_lexer *lx, const char *origin, const char *text, size_t len,
                  unsigned int first_line);

/* Checks the length of every line before anything is parsed. */
int cfg_lex_check_lines(const char *origin, const char *text, size_t len, char **ret_error);

/* The next token; -EINVAL (message set) on a lexical error, -ENOMEM. */
int cfg_lex_next(struct cfg_lexer *lx, struct cfg_token *tok);

/* "end of line", "','", "'memory'", "a string": what a token is, for messages. */
const char *cfg_token_describe(const struct cfg_token *tok, char *buf, size_t len);

bool cfg_utf8_valid(const char *s, size_t len);

/* Whether s is a key name: [A-Za-z_][A-Za-z0-9_-]*, at most XENO_CFG_KEY_MAX bytes. */
bool cfg_key_valid(const char *s, size_t len);

/* Parses an integer word: decimal with an optional '-', or 0x hexadecimal. */
bool cfg_parse_number(const char *s, long long *ret);

/* ---- Parser ---- */

/*
 * Parses one value from lx, its first token already read into first (whose text it takes).
 * key names the setting in messages.
 */
int cfg_parse_value(struct cfg_lexer *lx, struct cfg_token *first, const char *key,
                    struct cfg_value *ret);

/* ---- Domain layer ---- */

enum cfg_key_id {
	K_NAME,
	K_KERNEL,
	K_RAMDISK,
	K_CMDLINE,
	K_EXTRA,
	K_ROOT,
	K_MEMORY,
	K_MAXMEM,
	K_VCPUS,
	K_DISK,
	K_VIF,
	K_ON_POWEROFF,
	K_ON_REBOOT,
	K_ON_CRASH,
	K_IPADDR,
	K_IP,
	K_GATEWAY,
	K_NETMASK,
	K_HOSTNAME,
	K_INTERFACE,
	K_DHCP,
	K_NFS_SERVER,
	K_NFS_ROOT,
	K_RESTART,
	K_CPU,
	K_CPU_WEIGHT,
	K_CPU_CAP,
	K_CAP,
	K_CPUS,
	K_CONSOLE,
	K_NICS,
	K_VMID,
	K_BUILDER,
	K_ROOT_PASSWORD,
	K_SSH_KEY,
	K_LINKLOCAL,
	K_DEFLATE_ON_OOM,
	K_COUNT
};

enum cfg_key_kind {
	KIND_STRING,
	KIND_INT,
	KIND_LIST,           /* a list of strings, or one string */
	KIND_STRING_OR_LIST, /* kept apart: ip's string and list mean different things */
};

struct cfg_dom;

/* One row of the domain key table (cfg_keys.c): everything known about a key. */
struct cfg_key {
	const char *name;
	enum cfg_key_kind kind;
	long long min, max;     /* KIND_INT */
	const char *min_reason; /* KIND_INT: why min is the floor, said when a value is below */
	const char *unit;       /* KIND_INT: " MiB" or "", after numbers in messages */
	/* Checks (for disk and vif: also records) one substituted string; NULL: any string. */
	int (*check)(struct cfg_dom *d, const struct cfg_setting *s, unsigned int line,
	             const char *text);
	const char *doc; /* one line, for help texts; xeno.cfg(5) says more */
};

extern const struct cfg_key cfg_keys[K_COUNT];

struct cfg_disk {
	char *path;
	char *vdev;
	const char *format; /* "raw" or "qcow2" (static) */
	const char *cache;  /* "writeback", "none" or "unsafe" (static) */
	char *backing;      /* qcow2 only: the base of an overlay xend creates at path; or NULL */
	bool readonly;
	bool force;                  /* `w!`: writable even while other domains use the image */
	bool cdrom;                  /* devtype=cdrom: read-only */
	const struct cfg_setting *s; /* the disk setting, and the line of this entry */
	unsigned int line;
};

struct cfg_vif {
	char *mac; /* NULL: xend chooses */
	char **ips;
	size_t n_ips;
	char *bridge; /* NULL: routed; else the host bridge the TAP joins */
};

/* A key's resolved value. */
struct cfg_dom_value {
	const struct cfg_setting *s; /* NULL: not set */
	long long num;               /* KIND_INT */
	char *str;                   /* a string, ${var} replaced */
	char **list;                 /* a list's strings, ${var} replaced */
	size_t n;
	bool is_list; /* KIND_STRING_OR_LIST: which one was given */
};

/* The domain layer's working state for one xeno_cfg_domain_json() call. */
struct cfg_dom {
	const struct xeno_cfg *cfg;
	char **ret_error;
	struct cfg_dom_value v[K_COUNT];
	char **subst;              /* per setting of cfg: its string with ${var} replaced */
	unsigned char *subst_busy; /* per setting: being replaced (a loop if met again) */
	struct cfg_disk disks[VM_MAX_DISKS];
	size_t n_disks;
	struct cfg_vif vifs[VM_MAX_NETS];
	size_t n_vifs;
};

void cfg_vif_free(struct cfg_vif *vif);
void cfg_disk_free(struct cfg_disk *disk);

/* Whether s is a dotted-quad IPv4 address. */
bool cfg_ipv4_valid(const char *s);

#endif
