/*
 * Parses dotenv files (dotenv.h), line by line; the first bad line stops
 * it with its number.
 */
#include <string.h>

#include "buf.h"
#include "dotenv.h"
#include "jobenv.h"
#include "banned.h"

static const char *
skip_blank(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/* A double-quoted value from s (after the quote) into v; the closing quote, or NULL. */
static const char *
dq_value(const char *s, const char *end, struct cy_buf *v)
{
	for (; s < end; s++) {
		if (*s == '"')
			return s;
		if (*s != '\\' || s + 1 == end) {
			cy_buf_addch(v, *s);
			continue;
		}
		switch (*++s) {
		case 'n':
			cy_buf_addch(v, '\n');
			break;
		case 't':
			cy_buf_addch(v, '\t');
			break;
		case '"':
		case '\\':
		case '$':
			cy_buf_addch(v, *s);
			break;
		default:
			cy_buf_addch(v, '\\');
			cy_buf_addch(v, *s);
		}
	}
	return NULL;
}

/* One line (without its newline): 0, or -1 with the reason in why. */
static int
dotenv_line(const char *s, const char *end, json_t *env, struct cy_buf *why)
{
	struct cy_buf key = CY_BUF_INIT, v = CY_BUF_INIT;
	const char *k, *q;
	int rc = -1;

	if (end > s && end[-1] == '\r')
		end--;
	s = skip_blank(s, end);
	if (s == end || *s == '#')
		return 0;
	if (end - s > 7 && !strncmp(s, "export", 6) && (s[6] == ' ' || s[6] == '\t'))
		s = skip_blank(s + 7, end);
	for (k = s; s < end && *s != '=' && *s != ' ' && *s != '\t'; s++)
		;
	cy_buf_add(&key, k, (size_t)(s - k));
	s = skip_blank(s, end);
	if (s == end || *s != '=') {
		cy_buf_addf(why, "want KEY=VALUE");
		goto out;
	}
	if (!cy_env_name_valid(key.buf)) {
		cy_buf_addf(why, "'%.64s' is not a variable name", key.buf);
		goto out;
	}
	if (cy_env_name_reserved(key.buf)) {
		cy_buf_addf(why, "'%s' is reserved: the node sets CYNODE_* and INFERENCE_PROXY_URL",
		    key.buf);
		goto out;
	}
	s = skip_blank(s + 1, end);
	if (s < end && (*s == '"' || *s == '\'')) {
		if (*s == '"') {
			q = dq_value(s + 1, end, &v);
		} else {
			q = memchr(s + 1, '\'', (size_t)(end - s - 1));
			if (q)
				cy_buf_add(&v, s + 1, (size_t)(q - s - 1));
		}
		if (!q) {
			cy_buf_addf(why, "the value of %s has no closing %c quote", key.buf, *s);
			goto out;
		}
		s = skip_blank(q + 1, end);
		if (s < end && *s != '#') {
			cy_buf_addf(why, "text after the closing quote of %s", key.buf);
			goto out;
		}
	} else {
		const char *e = s;

		for (q = s; q < end; q++) {
			if (*q == '#' && q > s && (q[-1] == ' ' || q[-1] == '\t'))
				break;
			if (*q != ' ' && *q != '\t')
				e = q + 1;
		}
		cy_buf_add(&v, s, (size_t)(e - s));
	}
	if (json_object_set_new(env, key.buf, json_stringn(v.buf, v.len)) < 0) {
		cy_buf_addf(why, "the value of %s is not UTF-8 text", key.buf);
		goto out;
	}
	rc = 0;
out:
	cy_buf_release(&key);
	cy_buf_release(&v);
	return rc;
}

int
dotenv_parse(const char *text, size_t len, const char *file, json_t *env, struct cy_buf *why)
{
	const char *s = text, *end = text + len, *nl;
	struct cy_buf msg = CY_BUF_INIT;
	size_t line = 1;

	for (; s < end; s = nl + 1, line++) {
		nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			nl = end;
		if (memchr(s, '\0', (size_t)(nl - s))) {
			cy_buf_addf(why, "%s:%zu: a NUL byte", file, line);
			return -1;
		}
		if (dotenv_line(s, nl, env, &msg) < 0) {
			cy_buf_addf(why, "%s:%zu: %s", file, line, msg.buf);
			cy_buf_release(&msg);
			return -1;
		}
		if (nl == end)
			break;
	}
	return 0;
}
