/*-------------------------------------------------------------------------
 *
 * chatvalue.c
 *	  Values of the chat-template interpreter: arenas, constructors, the
 *	  conversion from JSON, and Python's str(), repr(), json.dumps(),
 *	  equality, ordering and truth rules, which templates rely on for
 *	  byte-identical output.
 *
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <unicode/uchar.h>

#include "llm/chatinternal.h"

#define ARENA_BLOCK (64 * 1024)

struct ChatArenaBlock
{
	ChatArenaBlock *next;
	size_t		size;
	size_t		used;
	/* data follows, aligned to 16 bytes */
};

#define BLOCK_HEADER ((sizeof(ChatArenaBlock) + 15) & ~(size_t) 15)

/* allocate size bytes (16-byte aligned); NULL past the limit or OOM */
void *
ChatArenaAlloc(ChatArena *arena, size_t size)
{
	ChatArenaBlock *b = arena->head;
	size_t		bsize;

	if (size > SIZE_MAX / 2)
		return NULL;
	size = (size + 15) & ~(size_t) 15;
	if (size == 0)
		size = 16;
	if (b != NULL && b->size - b->used >= size)
	{
		void	   *p = (char *) b + BLOCK_HEADER + b->used;

		b->used += size;
		return p;
	}
	bsize = size > ARENA_BLOCK / 4 ? size : ARENA_BLOCK;
	if (arena->limit && arena->total + bsize + BLOCK_HEADER > arena->limit)
		return NULL;
	b = malloc(BLOCK_HEADER + bsize);
	if (b == NULL)
		return NULL;
	arena->total += BLOCK_HEADER + bsize;
	b->size = bsize;
	b->used = size;
	/* a big block goes behind the head so the head's free space stays usable */
	if (bsize != ARENA_BLOCK && arena->head != NULL)
	{
		b->next = arena->head->next;
		arena->head->next = b;
	}
	else
	{
		b->next = arena->head;
		arena->head = b;
	}
	return (char *) b + BLOCK_HEADER;
}

/* release every block */
void
ChatArenaFree(ChatArena *arena)
{
	ChatArenaBlock *b = arena->head;

	while (b != NULL)
	{
		ChatArenaBlock *next = b->next;

		free(b);
		b = next;
	}
	arena->head = NULL;
	arena->total = 0;
}

/* fail the render: record the error with the current position and jump out */
void
ChatFail(ChatRender *r, int code, const char *fmt,...)
{
	char		msg[400];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	LlmSetError(r->err, code, "chat template error at line %d, column %d: %s",
				r->line, r->col, msg);
	r->errcode = code;
	longjmp(r->jump, 1);
}

/* arena allocation inside a render (zeroed); fails the render past the limit */
void *
ChatAlloc(ChatRender *r, size_t size)
{
	void	   *p = ChatArenaAlloc(&r->arena, size);

	if (p == NULL)
		ChatFail(r, LLM_ERR_ARGUMENT, "rendering needs more than %d MB of memory",
				 CHAT_MAX_ARENA / (1024 * 1024));
	memset(p, 0, size);
	return p;
}

/* count work; fails the render past CHAT_MAX_STEPS */
void
ChatStep(ChatRender *r, int64_t n)
{
	r->steps += n;
	if (r->steps > CHAT_MAX_STEPS)
		ChatFail(r, LLM_ERR_ARGUMENT, "rendering takes more than %d steps",
				 CHAT_MAX_STEPS);
}

/* ---- constructors ---- */

ChatValue *
ChatNewValue(ChatRender *r, ChatKind kind)
{
	ChatValue  *v = ChatAlloc(r, sizeof(ChatValue));

	v->kind = kind;
	return v;
}

ChatValue *
ChatBool(ChatRender *r, bool b)
{
	return b ? r->v_true : r->v_false;
}

ChatValue *
ChatInt(ChatRender *r, int64_t i)
{
	ChatValue  *v = ChatNewValue(r, CK_INT);

	v->u.i = i;
	return v;
}

ChatValue *
ChatFloat(ChatRender *r, double f)
{
	ChatValue  *v = ChatNewValue(r, CK_FLOAT);

	v->u.f = f;
	return v;
}

/* a string value referring to p (which must outlive the render) */
ChatValue *
ChatStrRef(ChatRender *r, const char *p, size_t len)
{
	ChatValue  *v;

	if (len > CHAT_MAX_OUTPUT)
		ChatFail(r, LLM_ERR_ARGUMENT, "string longer than %d bytes", CHAT_MAX_OUTPUT);
	v = ChatNewValue(r, CK_STR);
	v->u.s.p = len ? p : "";
	v->u.s.len = len;
	return v;
}

/* a string value holding a copy of p */
ChatValue *
ChatStr(ChatRender *r, const char *p, size_t len)
{
	char	   *copy;

	if (len > CHAT_MAX_OUTPUT)
		ChatFail(r, LLM_ERR_ARGUMENT, "string longer than %d bytes", CHAT_MAX_OUTPUT);
	copy = ChatAlloc(r, len + 1);
	if (len)
		memcpy(copy, p, len);
	return ChatStrRef(r, copy, len);
}

/* an undefined value remembering the name that was looked up */
ChatValue *
ChatUndef(ChatRender *r, const char *name)
{
	ChatValue  *v;

	if (name == NULL)
		return r->v_undef;
	v = ChatNewValue(r, CK_UNDEF);
	v->name = name;
	return v;
}

/* a list of n items, to be filled by the caller */
ChatValue *
ChatList(ChatRender *r, size_t n)
{
	ChatValue  *v = ChatNewValue(r, CK_LIST);

	if (n > CHAT_MAX_OUTPUT)
		ChatFail(r, LLM_ERR_ARGUMENT, "list longer than %d items", CHAT_MAX_OUTPUT);
	v->u.list.items = ChatAlloc(r, (n ? n : 1) * sizeof(ChatValue *));
	v->u.list.n = n;
	return v;
}

/* an empty dict or namespace */
ChatValue *
ChatNewDict(ChatRender *r, ChatKind kind)
{
	ChatValue  *v = ChatNewValue(r, kind);

	v->u.dict = ChatAlloc(r, sizeof(ChatDict));
	return v;
}

/* do two dict keys match (Python hash equality for the key types we allow)? */
static bool
KeyEq(const ChatValue *k, const ChatValue *key)
{
	if (k->kind == CK_STR || key->kind == CK_STR)
		return k->kind == key->kind && k->u.s.len == key->u.s.len &&
			memcmp(k->u.s.p, key->u.s.p, k->u.s.len) == 0;
	if (ChatIsNumber(k) && ChatIsNumber(key))
		return ChatToDouble(k) == ChatToDouble(key);
	if (k->kind != key->kind)
		return false;
	return k->kind == CK_NONE || k == key;
}

/* a key's value, NULL if absent */
ChatValue *
ChatDictGet(ChatDict *d, const ChatValue *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (KeyEq(d->keys[i], key))
			return d->vals[i];
	return NULL;
}

/* a string key's value, NULL if absent */
ChatValue *
ChatDictGetStr(ChatDict *d, const char *key, size_t len)
{
	for (size_t i = 0; i < d->n; i++)
	{
		const ChatValue *k = d->keys[i];

		if (k->kind == CK_STR && k->u.s.len == len && memcmp(k->u.s.p, key, len) == 0)
			return d->vals[i];
	}
	return NULL;
}

/* add a member known to be new */
static void
DictAppend(ChatRender *r, ChatDict *d, ChatValue *key, ChatValue *val)
{
	if (d->n == d->cap)
	{
		size_t		ncap = d->cap ? d->cap * 2 : 8;
		ChatValue **keys = ChatAlloc(r, ncap * sizeof(ChatValue *));
		ChatValue **vals = ChatAlloc(r, ncap * sizeof(ChatValue *));

		if (d->n)
		{
			memcpy(keys, d->keys, d->n * sizeof(ChatValue *));
			memcpy(vals, d->vals, d->n * sizeof(ChatValue *));
		}
		d->keys = keys;
		d->vals = vals;
		d->cap = ncap;
	}
	d->keys[d->n] = key;
	d->vals[d->n] = val;
	d->n++;
}

/* set or replace a member, keeping insertion order */
void
ChatDictSet(ChatRender *r, ChatDict *d, ChatValue *key, ChatValue *val)
{
	ChatStep(r, (int64_t) d->n);
	for (size_t i = 0; i < d->n; i++)
		if (KeyEq(d->keys[i], key))
		{
			d->vals[i] = val;
			return;
		}
	DictAppend(r, d, key, val);
}

/* convert a JSON value (strings are referenced, not copied) */
ChatValue *
ChatFromJson(ChatRender *r, const json_t *json, int depth)
{
	ChatValue  *v;

	if (depth > 2 * CHAT_MAX_VALUE_DEPTH)
		ChatFail(r, LLM_ERR_ARGUMENT, "JSON input nested too deeply");
	if (json == NULL)
		return r->v_none;
	switch (json_typeof(json))
	{
		case JSON_OBJECT:
			{
				const char *key;
				json_t	   *member;

				v = ChatNewDict(r, CK_DICT);
				json_object_foreach((json_t *) json, key, member)
				{
					ChatStep(r, 1);
					DictAppend(r, v->u.dict, ChatStrRef(r, key, strlen(key)),
								ChatFromJson(r, member, depth + 1));
				}
				return v;
			}
		case JSON_ARRAY:
			v = ChatList(r, json_array_size(json));
			for (size_t i = 0; i < v->u.list.n; i++)
			{
				ChatStep(r, 1);
				v->u.list.items[i] = ChatFromJson(r, json_array_get(json, i), depth + 1);
			}
			return v;
		case JSON_STRING:
			return ChatStrRef(r, json_string_value(json), json_string_length(json));
		case JSON_INTEGER:
			return ChatInt(r, json_integer_value(json));
		case JSON_REAL:
			return ChatFloat(r, json_real_value(json));
		case JSON_TRUE:
			return r->v_true;
		case JSON_FALSE:
			return r->v_false;
		case JSON_NULL:
			return r->v_none;
	}
	return r->v_none;
}

/* ---- buffers (in the render's arena) ---- */

/* append bytes; fails the render past CHAT_MAX_OUTPUT */
void
ChatBufAppend(ChatRender *r, ChatBuf *buf, const char *p, size_t len)
{
	if (len == 0)
		return;
	if (len > CHAT_MAX_OUTPUT || buf->len + len > CHAT_MAX_OUTPUT)
		ChatFail(r, LLM_ERR_ARGUMENT, "output longer than %d bytes", CHAT_MAX_OUTPUT);
	if (buf->len + len + 1 > buf->cap)
	{
		size_t		ncap = buf->cap ? buf->cap * 2 : 256;
		char	   *data;

		while (ncap < buf->len + len + 1)
			ncap *= 2;
		data = ChatArenaAlloc(&r->arena, ncap);
		if (data == NULL)
			ChatFail(r, LLM_ERR_ARGUMENT, "rendering needs more than %d MB of memory",
					 CHAT_MAX_ARENA / (1024 * 1024));
		if (buf->len)
			memcpy(data, buf->data, buf->len);
		buf->data = data;
		buf->cap = ncap;
	}
	memcpy(buf->data + buf->len, p, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void
ChatBufPuts(ChatRender *r, ChatBuf *buf, const char *s)
{
	ChatBufAppend(r, buf, s, strlen(s));
}

/* the buffer's contents as a string value (the buffer is given up) */
ChatValue *
ChatBufToStr(ChatRender *r, ChatBuf *buf)
{
	ChatValue  *v = ChatStrRef(r, buf->len ? buf->data : "", buf->len);

	memset(buf, 0, sizeof(*buf));
	return v;
}

/* ---- Python semantics ---- */

/* Python truth value */
bool
ChatTruthy(const ChatValue *v)
{
	switch (v->kind)
	{
		case CK_UNDEF:
		case CK_NONE:
			return false;
		case CK_BOOL:
			return v->u.b;
		case CK_INT:
			return v->u.i != 0;
		case CK_FLOAT:
			return v->u.f != 0.0;
		case CK_STR:
			return v->u.s.len > 0;
		case CK_LIST:
			return v->u.list.n > 0 || v->u.list.lazy;
		case CK_DICT:
			return v->u.dict->n > 0;
		default:
			return true;
	}
}

bool
ChatIsNumber(const ChatValue *v)
{
	return v->kind == CK_INT || v->kind == CK_FLOAT || v->kind == CK_BOOL;
}

double
ChatToDouble(const ChatValue *v)
{
	return v->kind == CK_FLOAT ? v->u.f : v->kind == CK_INT ? (double) v->u.i :
		v->kind == CK_BOOL ? (double) v->u.b : 0.0;
}

/* Python's type name, for error messages */
const char *
ChatKindName(const ChatValue *v)
{
	static const char *const names[] = {
		"undefined", "NoneType", "bool", "int", "float", "str", "list", "dict",
		"Namespace", "LoopContext", "Macro", "function"
	};

	return names[v->kind];
}

/* Python's repr() of a float: the shortest string that round-trips */
void
ChatAppendFloat(ChatBuf *buf, ChatRender *r, double f)
{
	char		tmp[64];
	char		digits[32];
	int			nd = 0;
	int			exp10;
	int			decpt;
	char		out[64];
	size_t		o = 0;
	char	   *e;

	if (isnan(f))
	{
		ChatBufPuts(r, buf, "nan");
		return;
	}
	if (isinf(f))
	{
		ChatBufPuts(r, buf, f < 0 ? "-inf" : "inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++)
	{
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	/* tmp is [-]d[.ddd]e[+-]xx */
	for (char *c = tmp; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			digits[nd++] = *c;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	e = strchr(tmp, 'e');
	exp10 = e ? atoi(e + 1) : 0;
	decpt = exp10 + 1;
	if (signbit(f))
		out[o++] = '-';
	if (decpt > -4 && decpt <= 16)
	{
		if (decpt <= 0)
		{
			out[o++] = '0';
			out[o++] = '.';
			for (int i = 0; i < -decpt; i++)
				out[o++] = '0';
			for (int i = 0; i < nd; i++)
				out[o++] = digits[i];
		}
		else if (decpt >= nd)
		{
			for (int i = 0; i < nd; i++)
				out[o++] = digits[i];
			for (int i = nd; i < decpt; i++)
				out[o++] = '0';
			out[o++] = '.';
			out[o++] = '0';
		}
		else
		{
			for (int i = 0; i < nd; i++)
			{
				if (i == decpt)
					out[o++] = '.';
				out[o++] = digits[i];
			}
		}
		out[o] = '\0';
	}
	else
	{
		out[o++] = digits[0];
		if (nd > 1)
		{
			out[o++] = '.';
			for (int i = 1; i < nd; i++)
				out[o++] = digits[i];
		}
		snprintf(out + o, sizeof(out) - o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	}
	ChatBufPuts(r, buf, out);
}

/* Python's repr() of a string */
static void
AppendStrRepr(ChatRender *r, ChatBuf *buf, const char *p, size_t len)
{
	bool		has_single = memchr(p, '\'', len) != NULL;
	bool		has_double = memchr(p, '"', len) != NULL;
	char		quote = (has_single && !has_double) ? '"' : '\'';
	size_t		i = 0;

	ChatBufAppend(r, buf, &quote, 1);
	while (i < len)
	{
		uint32_t	cp;
		size_t		n = LlmUtf8DecodeLoose(p + i, len - i, &cp);
		char		esc[16];

		if (cp == '\\' || cp == (uint32_t) quote)
		{
			esc[0] = '\\';
			esc[1] = (char) cp;
			ChatBufAppend(r, buf, esc, 2);
		}
		else if (cp == '\n')
			ChatBufPuts(r, buf, "\\n");
		else if (cp == '\r')
			ChatBufPuts(r, buf, "\\r");
		else if (cp == '\t')
			ChatBufPuts(r, buf, "\\t");
		else if (cp < 0x20 || cp == 0x7f)
		{
			snprintf(esc, sizeof(esc), "\\x%02x", cp);
			ChatBufPuts(r, buf, esc);
		}
		else if (cp >= 0x80)
		{
			int8_t		type = u_charType(cp);

			if (type == U_CONTROL_CHAR || type == U_FORMAT_CHAR || type == U_SURROGATE ||
				type == U_PRIVATE_USE_CHAR || type == U_UNASSIGNED ||
				type == U_LINE_SEPARATOR || type == U_PARAGRAPH_SEPARATOR ||
				type == U_SPACE_SEPARATOR)
			{
				if (cp < 0x100)
					snprintf(esc, sizeof(esc), "\\x%02x", cp);
				else if (cp < 0x10000)
					snprintf(esc, sizeof(esc), "\\u%04x", cp);
				else
					snprintf(esc, sizeof(esc), "\\U%08x", cp);
				ChatBufPuts(r, buf, esc);
			}
			else
				ChatBufAppend(r, buf, p + i, n);
		}
		else
			ChatBufAppend(r, buf, p + i, n);
		i += n;
	}
	ChatBufAppend(r, buf, &quote, 1);
}

/* str(v) appended to buf */
void
ChatAppendStr(ChatRender *r, ChatBuf *buf, const ChatValue *v, int depth)
{
	char		tmp[32];

	switch (v->kind)
	{
		case CK_UNDEF:
			return;
		case CK_NONE:
			ChatBufPuts(r, buf, "None");
			return;
		case CK_BOOL:
			ChatBufPuts(r, buf, v->u.b ? "True" : "False");
			return;
		case CK_INT:
			snprintf(tmp, sizeof(tmp), "%" PRId64, v->u.i);
			ChatBufPuts(r, buf, tmp);
			return;
		case CK_FLOAT:
			ChatAppendFloat(buf, r, v->u.f);
			return;
		case CK_STR:
			ChatBufAppend(r, buf, v->u.s.p, v->u.s.len);
			return;
		default:
			ChatAppendRepr(r, buf, v, depth);
			return;
	}
}

/* repr(v) appended to buf */
void
ChatAppendRepr(ChatRender *r, ChatBuf *buf, const ChatValue *v, int depth)
{
	if (depth > CHAT_MAX_VALUE_DEPTH)
		ChatFail(r, LLM_ERR_ARGUMENT, "value nested too deeply to print");
	ChatStep(r, 1);
	switch (v->kind)
	{
		case CK_UNDEF:
			ChatBufPuts(r, buf, "Undefined");
			return;
		case CK_STR:
			AppendStrRepr(r, buf, v->u.s.p, v->u.s.len);
			return;
		case CK_LIST:
			if (v->u.list.lazy)
			{
				ChatBufPuts(r, buf, "<generator object>");
				return;
			}
			ChatBufPuts(r, buf, v->u.list.tuple ? "(" : "[");
			for (size_t i = 0; i < v->u.list.n; i++)
			{
				if (i)
					ChatBufPuts(r, buf, ", ");
				ChatAppendRepr(r, buf, v->u.list.items[i], depth + 1);
			}
			ChatBufPuts(r, buf, !v->u.list.tuple ? "]" : v->u.list.n == 1 ? ",)" : ")");
			return;
		case CK_DICT:
		case CK_NS:
			ChatBufPuts(r, buf, v->kind == CK_NS ? "<Namespace {" : "{");
			for (size_t i = 0; i < v->u.dict->n; i++)
			{
				if (i)
					ChatBufPuts(r, buf, ", ");
				ChatAppendRepr(r, buf, v->u.dict->keys[i], depth + 1);
				ChatBufPuts(r, buf, ": ");
				ChatAppendRepr(r, buf, v->u.dict->vals[i], depth + 1);
			}
			ChatBufPuts(r, buf, v->kind == CK_NS ? "}>" : "}");
			return;
		case CK_LOOP:
			ChatBufPuts(r, buf, "<LoopContext>");
			return;
		case CK_MACRO:
			ChatBufPuts(r, buf, "<Macro>");
			return;
		case CK_FUNC:
			ChatBufPuts(r, buf, "<function>");
			return;
		default:
			ChatAppendStr(r, buf, v, depth);
			return;
	}
}

/* str(v) as a value */
ChatValue *
ChatToStr(ChatRender *r, ChatValue *v)
{
	ChatBuf		buf = {0};

	if (v->kind == CK_STR)
		return v;
	ChatAppendStr(r, &buf, v, 0);
	return ChatBufToStr(r, &buf);
}

/* a JSON string literal (ensure_ascii=False) */
static void
AppendJsonString(ChatRender *r, ChatBuf *buf, const char *p, size_t len)
{
	size_t		start = 0;

	ChatBufPuts(r, buf, "\"");
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) p[i];
		char		esc[16];
		const char *rep = NULL;

		if (c >= 0x80 && r->json_ascii)
		{
			uint32_t	cp;
			size_t		n = LlmUtf8DecodeLoose(p + i, len - i, &cp);

			ChatBufAppend(r, buf, p + start, i - start);
			if (cp >= 0x10000)
			{
				cp -= 0x10000;
				snprintf(esc, sizeof(esc), "\\u%04x", 0xD800 + (cp >> 10));
				ChatBufPuts(r, buf, esc);
				cp = 0xDC00 + (cp & 0x3FF);
			}
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
			ChatBufPuts(r, buf, esc);
			i += n - 1;
			start = i + 1;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c)
		{
			case '"':
				rep = "\\\"";
				break;
			case '\\':
				rep = "\\\\";
				break;
			case '\n':
				rep = "\\n";
				break;
			case '\r':
				rep = "\\r";
				break;
			case '\t':
				rep = "\\t";
				break;
			case '\b':
				rep = "\\b";
				break;
			case '\f':
				rep = "\\f";
				break;
			default:
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				rep = esc;
				break;
		}
		ChatBufAppend(r, buf, p + start, i - start);
		ChatBufPuts(r, buf, rep);
		start = i + 1;
	}
	ChatBufAppend(r, buf, p + start, len - start);
	ChatBufPuts(r, buf, "\"");
}

/* newline plus indentation for json.dumps(indent=n) */
static void
JsonNewline(ChatRender *r, ChatBuf *buf, int indent, int level)
{
	ChatBufPuts(r, buf, "\n");
	for (int i = 0; i < indent * level; i++)
		ChatBufPuts(r, buf, " ");
}

/* a dict key as json.dumps writes it */
static void
AppendJsonKey(ChatRender *r, ChatBuf *buf, const ChatValue *k)
{
	ChatBuf		tmp = {0};

	switch (k->kind)
	{
		case CK_STR:
			AppendJsonString(r, buf, k->u.s.p, k->u.s.len);
			return;
		case CK_NONE:
			ChatBufPuts(r, buf, "\"null\"");
			return;
		case CK_BOOL:
			ChatBufPuts(r, buf, k->u.b ? "\"true\"" : "\"false\"");
			return;
		case CK_INT:
		case CK_FLOAT:
			ChatAppendStr(r, &tmp, k, 0);
			AppendJsonString(r, buf, tmp.data, tmp.len);
			return;
		default:
			ChatFail(r, LLM_ERR_ARGUMENT, "keys must be str, int, float, bool or None, not %s",
					 ChatKindName(k));
	}
}

/* order dict members by key for sort_keys (insertion sort: dicts are small) */
static size_t *
SortedOrder(ChatRender *r, const ChatDict *d)
{
	size_t	   *order = ChatAlloc(r, (d->n ? d->n : 1) * sizeof(size_t));

	for (size_t i = 0; i < d->n; i++)
	{
		size_t		j = i;

		ChatStep(r, (int64_t) i);
		while (j > 0 && ChatCompare(r, d->keys[order[j - 1]], d->keys[i], 0) > 0)
		{
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	return order;
}

/*
 * json.dumps(v, ensure_ascii=False, indent=indent (<0: None),
 * separators=(item_sep, key_sep), sort_keys=sort_keys)
 */
void
ChatAppendJson(ChatRender *r, ChatBuf *buf, const ChatValue *v, int indent,
			   const char *item_sep, const char *key_sep, bool sort_keys, int level)
{
	if (level > CHAT_MAX_VALUE_DEPTH)
		ChatFail(r, LLM_ERR_ARGUMENT, "value nested too deeply for tojson");
	ChatStep(r, 1);
	switch (v->kind)
	{
		case CK_NONE:
			ChatBufPuts(r, buf, "null");
			return;
		case CK_BOOL:
			ChatBufPuts(r, buf, v->u.b ? "true" : "false");
			return;
		case CK_INT:
			ChatAppendStr(r, buf, v, 0);
			return;
		case CK_FLOAT:
			if (isnan(v->u.f))
				ChatBufPuts(r, buf, "NaN");
			else if (isinf(v->u.f))
				ChatBufPuts(r, buf, v->u.f < 0 ? "-Infinity" : "Infinity");
			else
				ChatAppendFloat(buf, r, v->u.f);
			return;
		case CK_STR:
			AppendJsonString(r, buf, v->u.s.p, v->u.s.len);
			return;
		case CK_LIST:
			if (v->u.list.lazy)
				ChatFail(r, LLM_ERR_ARGUMENT, "Object of type generator is not JSON serializable");
			if (v->u.list.n == 0)
			{
				ChatBufPuts(r, buf, "[]");
				return;
			}
			ChatBufPuts(r, buf, "[");
			for (size_t i = 0; i < v->u.list.n; i++)
			{
				if (i)
					ChatBufPuts(r, buf, item_sep);
				if (indent >= 0)
					JsonNewline(r, buf, indent, level + 1);
				ChatAppendJson(r, buf, v->u.list.items[i], indent, item_sep, key_sep,
							   sort_keys, level + 1);
			}
			if (indent >= 0)
				JsonNewline(r, buf, indent, level);
			ChatBufPuts(r, buf, "]");
			return;
		case CK_DICT:
			{
				const ChatDict *d = v->u.dict;
				size_t	   *order = sort_keys ? SortedOrder(r, d) : NULL;

				if (d->n == 0)
				{
					ChatBufPuts(r, buf, "{}");
					return;
				}
				ChatBufPuts(r, buf, "{");
				for (size_t i = 0; i < d->n; i++)
				{
					size_t		k = order ? order[i] : i;

					if (i)
						ChatBufPuts(r, buf, item_sep);
					if (indent >= 0)
						JsonNewline(r, buf, indent, level + 1);
					AppendJsonKey(r, buf, d->keys[k]);
					ChatBufPuts(r, buf, key_sep);
					ChatAppendJson(r, buf, d->vals[k], indent, item_sep, key_sep,
								   sort_keys, level + 1);
				}
				if (indent >= 0)
					JsonNewline(r, buf, indent, level);
				ChatBufPuts(r, buf, "}");
				return;
			}
		default:
			ChatFail(r, LLM_ERR_ARGUMENT, "Object of type %s is not JSON serializable",
					 v->kind == CK_UNDEF ? "Undefined" : ChatKindName(v));
	}
}

/* Python == */
bool
ChatEqual(ChatRender *r, const ChatValue *a, const ChatValue *b, int depth)
{
	if (depth > CHAT_MAX_VALUE_DEPTH)
		ChatFail(r, LLM_ERR_ARGUMENT, "value nested too deeply to compare");
	if (ChatIsNumber(a) && ChatIsNumber(b))
	{
		if (a->kind != CK_FLOAT && b->kind != CK_FLOAT)
			return (a->kind == CK_INT ? a->u.i : a->u.b) == (b->kind == CK_INT ? b->u.i : b->u.b);
		return ChatToDouble(a) == ChatToDouble(b);
	}
	if (a->kind != b->kind)
		return false;
	switch (a->kind)
	{
		case CK_UNDEF:
		case CK_NONE:
			return true;
		case CK_STR:
			return a->u.s.len == b->u.s.len && memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0;
		case CK_LIST:
			if (a->u.list.n != b->u.list.n || a->u.list.tuple != b->u.list.tuple)
				return false;
			for (size_t i = 0; i < a->u.list.n; i++)
			{
				ChatStep(r, 1);
				if (!ChatEqual(r, a->u.list.items[i], b->u.list.items[i], depth + 1))
					return false;
			}
			return true;
		case CK_DICT:
			if (a->u.dict->n != b->u.dict->n)
				return false;
			for (size_t i = 0; i < a->u.dict->n; i++)
			{
				ChatValue  *other = ChatDictGet(b->u.dict, a->u.dict->keys[i]);

				ChatStep(r, (int64_t) b->u.dict->n);
				if (other == NULL || !ChatEqual(r, a->u.dict->vals[i], other, depth + 1))
					return false;
			}
			return true;
		case CK_NS:
			return a->u.dict == b->u.dict;
		case CK_LOOP:
			return a->u.loop == b->u.loop;
		case CK_MACRO:
			return a->u.macro == b->u.macro;
		case CK_FUNC:
			return a->u.func == b->u.func;
		default:
			return false;
	}
}

/* Python ordering (<0, 0, >0); fails for types Python cannot order */
int
ChatCompare(ChatRender *r, const ChatValue *a, const ChatValue *b, int depth)
{
	if (depth > CHAT_MAX_VALUE_DEPTH)
		ChatFail(r, LLM_ERR_ARGUMENT, "value nested too deeply to compare");
	if (ChatIsNumber(a) && ChatIsNumber(b))
	{
		if (a->kind != CK_FLOAT && b->kind != CK_FLOAT)
		{
			int64_t		x = a->kind == CK_INT ? a->u.i : a->u.b;
			int64_t		y = b->kind == CK_INT ? b->u.i : b->u.b;

			return x < y ? -1 : x > y ? 1 : 0;
		}
		else
		{
			double		x = ChatToDouble(a);
			double		y = ChatToDouble(b);

			return x < y ? -1 : x > y ? 1 : 0;
		}
	}
	if (a->kind == CK_STR && b->kind == CK_STR)
	{
		size_t		n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
		int			c = n ? memcmp(a->u.s.p, b->u.s.p, n) : 0;

		if (c != 0)
			return c;
		return a->u.s.len < b->u.s.len ? -1 : a->u.s.len > b->u.s.len ? 1 : 0;
	}
	if (a->kind == CK_LIST && b->kind == CK_LIST)
	{
		for (size_t i = 0; i < a->u.list.n && i < b->u.list.n; i++)
		{
			ChatStep(r, 1);
			if (!ChatEqual(r, a->u.list.items[i], b->u.list.items[i], depth + 1))
				return ChatCompare(r, a->u.list.items[i], b->u.list.items[i], depth + 1);
		}
		return a->u.list.n < b->u.list.n ? -1 : a->u.list.n > b->u.list.n ? 1 : 0;
	}
	ChatFail(r, LLM_ERR_ARGUMENT, "'<' not supported between instances of '%s' and '%s'",
			 ChatKindName(a), ChatKindName(b));
}

/* ---- characters ---- */

/* Python str.isspace() for one code point */
bool
ChatIsSpace(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) ||
		cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
		cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}
