/*-------------------------------------------------------------------------
 *
 * chatfilter.c
 *	  Filters and tests of the chat-template interpreter.
 *
 * The filters are Jinja's built-ins that chat templates use, with
 * transformers' tojson (json.dumps with ensure_ascii=False and Python's
 * default separators) in place of Jinja's HTML-safe one; the tests are
 * Jinja's built-in tests.  The argument getters here also serve the
 * methods and global functions in chatmethod.c, whose str operations the
 * string filters (trim, lower, upper, title, replace...) share.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <unicode/uchar.h>

#include "llm/chatinternal.h"

typedef enum FilterId
{
	F_ABS,
	F_ATTR,
	F_CAPITALIZE,
	F_DEFAULT,
	F_DICTSORT,
	F_ESCAPE,
	F_FIRST,
	F_FLOAT,
	F_FORMAT,
	F_INDENT,
	F_INT,
	F_ITEMS,
	F_JOIN,
	F_LAST,
	F_LENGTH,
	F_LIST,
	F_LOWER,
	F_MAP,
	F_MAX,
	F_MIN,
	F_REJECT,
	F_REJECTATTR,
	F_REPLACE,
	F_REVERSE,
	F_ROUND,
	F_SAFE,
	F_SELECT,
	F_SELECTATTR,
	F_SORT,
	F_STRING,
	F_SUM,
	F_TITLE,
	F_TOJSON,
	F_TRIM,
	F_UNIQUE,
	F_UPPER,
	F_WORDCOUNT
} FilterId;

static const struct
{
	const char *name;
	FilterId	id;
}			Filters[] =
{
	{"abs", F_ABS},
	{"attr", F_ATTR},
	{"capitalize", F_CAPITALIZE},
	{"count", F_LENGTH},
	{"d", F_DEFAULT},
	{"default", F_DEFAULT},
	{"dictsort", F_DICTSORT},
	{"e", F_ESCAPE},
	{"escape", F_ESCAPE},
	{"first", F_FIRST},
	{"float", F_FLOAT},
	{"format", F_FORMAT},
	{"indent", F_INDENT},
	{"int", F_INT},
	{"items", F_ITEMS},
	{"join", F_JOIN},
	{"last", F_LAST},
	{"length", F_LENGTH},
	{"list", F_LIST},
	{"lower", F_LOWER},
	{"map", F_MAP},
	{"max", F_MAX},
	{"min", F_MIN},
	{"reject", F_REJECT},
	{"rejectattr", F_REJECTATTR},
	{"replace", F_REPLACE},
	{"reverse", F_REVERSE},
	{"round", F_ROUND},
	{"safe", F_SAFE},
	{"select", F_SELECT},
	{"selectattr", F_SELECTATTR},
	{"sort", F_SORT},
	{"string", F_STRING},
	{"sum", F_SUM},
	{"title", F_TITLE},
	{"tojson", F_TOJSON},
	{"trim", F_TRIM},
	{"unique", F_UNIQUE},
	{"upper", F_UPPER},
	{"wordcount", F_WORDCOUNT},
};

typedef enum TestId
{
	T_DEFINED,
	T_UNDEFINED,
	T_NONE,
	T_BOOLEAN,
	T_FALSE,
	T_TRUE,
	T_INTEGER,
	T_FLOAT,
	T_NUMBER,
	T_STRING,
	T_MAPPING,
	T_SEQUENCE,
	T_ITERABLE,
	T_CALLABLE,
	T_SAMEAS,
	T_ODD,
	T_EVEN,
	T_DIVISIBLEBY,
	T_LOWER,
	T_UPPER,
	T_IN,
	T_EQ,
	T_NE,
	T_GT,
	T_GE,
	T_LT,
	T_LE,
	T_ESCAPED
} TestId;

static const struct
{
	const char *name;
	TestId		id;
}			Tests[] =
{
	{"defined", T_DEFINED},
	{"undefined", T_UNDEFINED},
	{"none", T_NONE},
	{"boolean", T_BOOLEAN},
	{"false", T_FALSE},
	{"true", T_TRUE},
	{"integer", T_INTEGER},
	{"float", T_FLOAT},
	{"number", T_NUMBER},
	{"string", T_STRING},
	{"mapping", T_MAPPING},
	{"sequence", T_SEQUENCE},
	{"iterable", T_ITERABLE},
	{"callable", T_CALLABLE},
	{"sameas", T_SAMEAS},
	{"odd", T_ODD},
	{"even", T_EVEN},
	{"divisibleby", T_DIVISIBLEBY},
	{"lower", T_LOWER},
	{"upper", T_UPPER},
	{"in", T_IN},
	{"eq", T_EQ},
	{"equalto", T_EQ},
	{"==", T_EQ},
	{"ne", T_NE},
	{"!=", T_NE},
	{"gt", T_GT},
	{"greaterthan", T_GT},
	{">", T_GT},
	{"ge", T_GE},
	{">=", T_GE},
	{"lt", T_LT},
	{"lessthan", T_LT},
	{"<", T_LT},
	{"le", T_LE},
	{"<=", T_LE},
	{"escaped", T_ESCAPED},
};

/* filter id by name, -1 if unknown */
int
ChatFilterLookup(const char *name)
{
	for (size_t i = 0; i < sizeof(Filters) / sizeof(Filters[0]); i++)
		if (strcmp(Filters[i].name, name) == 0)
			return Filters[i].id;
	return -1;
}

/* test id by name, -1 if unknown */
int
ChatTestLookup(const char *name)
{
	for (size_t i = 0; i < sizeof(Tests) / sizeof(Tests[0]); i++)
		if (strcmp(Tests[i].name, name) == 0)
			return Tests[i].id;
	return -1;
}

/* ---- argument helpers ---- */

/* argument at position i or named name; NULL if not given */
ChatValue *
ChatArg(const ChatArgs *a, int i, const char *name)
{
	if (i >= 0 && i < a->npos)
		return a->pos[i];
	for (int k = 0; name && k < a->nkw; k++)
		if (strcmp(a->kwnames[k], name) == 0)
			return a->kwvals[k];
	return NULL;
}

/* an integer argument with a default */
int64_t
ChatIntArg(ChatRender *r, const ChatArgs *a, int i, const char *name, int64_t dflt)
{
	ChatValue  *v = ChatArg(a, i, name);

	if (v == NULL || v->kind == CK_NONE)
		return dflt;
	if (v->kind == CK_INT)
		return v->u.i;
	if (v->kind == CK_BOOL)
		return v->u.b;
	ChatFail(r, LLM_ERR_ARGUMENT, "argument '%s' must be an integer, not %s",
			 name ? name : "?", ChatKindName(v));
}

/* a string argument (NULL if not given); fails for other types */
ChatValue *
ChatStrArg(ChatRender *r, const ChatArgs *a, int i, const char *name)
{
	ChatValue  *v = ChatArg(a, i, name);

	if (v == NULL || v->kind == CK_NONE)
		return NULL;
	if (v->kind != CK_STR)
		ChatFail(r, LLM_ERR_ARGUMENT, "argument '%s' must be a string, not %s",
				 name ? name : "?", ChatKindName(v));
	return v;
}

static bool
BoolArg(const ChatArgs *a, int i, const char *name, bool dflt)
{
	ChatValue  *v = ChatArg(a, i, name);

	return v ? ChatTruthy(v) : dflt;
}

/* fail unless v is a string */
void
ChatNeedStr(ChatRender *r, const ChatValue *v, const char *what)
{
	if (v->kind == CK_UNDEF && v->name)
		ChatFail(r, LLM_ERR_ARGUMENT, "'%s' is undefined", v->name);
	if (v->kind != CK_STR)
		ChatFail(r, LLM_ERR_ARGUMENT, "%s expects a string, not %s", what, ChatKindName(v));
}

/* NUL-terminated copy of a string value */
const char *
ChatCStr(ChatRender *r, const ChatValue *v)
{
	char	   *s = ChatAlloc(r, v->u.s.len + 1);

	memcpy(s, v->u.s.p, v->u.s.len);
	return s;
}

/* ---- string helpers ---- */

/* printf-style "%s" % args, the format filter: %s %d %i %r %% only */
static ChatValue *
PercentFormat(ChatRender *r, ChatValue *fmt, const ChatArgs *a)
{
	ChatBuf		buf = {0};
	int			next = 0;

	for (size_t i = 0; i < fmt->u.s.len; i++)
	{
		char		c = fmt->u.s.p[i];
		ChatValue  *v;

		if (c != '%')
		{
			ChatBufAppend(r, &buf, &c, 1);
			continue;
		}
		if (++i >= fmt->u.s.len)
			ChatFail(r, LLM_ERR_ARGUMENT, "incomplete format");
		c = fmt->u.s.p[i];
		if (c == '%')
		{
			ChatBufAppend(r, &buf, "%", 1);
			continue;
		}
		v = ChatArg(a, next++, NULL);
		if (v == NULL)
			ChatFail(r, LLM_ERR_ARGUMENT, "not enough arguments for format string");
		if (c == 's')
			ChatAppendStr(r, &buf, v, 0);
		else if (c == 'r')
			ChatAppendRepr(r, &buf, v, 0);
		else if ((c == 'd' || c == 'i') && ChatIsNumber(v))
		{
			char		tmp[32];

			snprintf(tmp, sizeof(tmp), "%lld", v->kind == CK_FLOAT ? (long long) v->u.f :
					 (long long) (v->kind == CK_INT ? v->u.i : v->u.b));
			ChatBufPuts(r, &buf, tmp);
		}
		else
			ChatFail(r, LLM_ERR_UNSUPPORTED, "format conversion '%%%c' is not supported", c);
	}
	return ChatBufToStr(r, &buf);
}

/* ---- list helpers ---- */

/* an item's attribute as Jinja's attribute getters read it ("a.b", "0") */
static ChatValue *
AttrPath(ChatRender *r, ChatValue *item, ChatValue *path)
{
	size_t		i = 0;

	ChatNeedStr(r, path, "attribute");
	while (i <= path->u.s.len)
	{
		size_t		end = i;
		bool		digits = true;

		while (end < path->u.s.len && path->u.s.p[end] != '.')
		{
			if (path->u.s.p[end] < '0' || path->u.s.p[end] > '9')
				digits = false;
			end++;
		}
		if (digits && end > i && end - i < 18)
			item = ChatGetItem(r, item, ChatInt(r, strtoll(path->u.s.p + i, NULL, 10)));
		else if (item->kind == CK_UNDEF)
			return item;
		else
			item = ChatGetItem(r, item, ChatStrRef(r, path->u.s.p + i, end - i));
		i = end + 1;
	}
	return item;
}

/* a list from any iterable value */
static ChatValue *
ToList(ChatRender *r, ChatValue *v)
{
	ChatValue **items;
	size_t		n;
	ChatValue  *out;

	ChatIterItems(r, v, &items, &n);
	out = ChatList(r, n);
	if (n)
		memcpy(out->u.list.items, items, n * sizeof(ChatValue *));
	return out;
}

/* mark a filter's result as a Python generator */
static ChatValue *
Lazy(ChatValue *v)
{
	v->u.list.lazy = true;
	return v;
}

/* lower-cased strings for case-insensitive comparison */
static ChatValue *
FoldKey(ChatRender *r, ChatValue *v, bool case_sensitive)
{
	if (!case_sensitive && v->kind == CK_STR)
		return ChatMapCase(r, v, 'l');
	return v;
}

/* stable merge sort of items by keys */
static void
SortByKeys(ChatRender *r, ChatValue **items, ChatValue **keys, size_t n, bool reverse)
{
	ChatValue **ti;
	ChatValue **tk;

	if (n < 2)
		return;
	ti = ChatAlloc(r, n * sizeof(ChatValue *));
	tk = ChatAlloc(r, n * sizeof(ChatValue *));
	for (size_t width = 1; width < n; width *= 2)
	{
		for (size_t lo = 0; lo < n; lo += 2 * width)
		{
			size_t		mid = lo + width < n ? lo + width : n;
			size_t		hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t		i = lo;
			size_t		j = mid;
			size_t		k = lo;

			while (i < mid || j < hi)
			{
				bool		take_left;

				ChatStep(r, 1);
				if (i >= mid)
					take_left = false;
				else if (j >= hi)
					take_left = true;
				else
				{
					int			c = ChatCompare(r, keys[i], keys[j], 0);

					take_left = reverse ? c >= 0 : c <= 0;
				}
				if (take_left)
				{
					ti[k] = items[i];
					tk[k++] = keys[i++];
				}
				else
				{
					ti[k] = items[j];
					tk[k++] = keys[j++];
				}
			}
		}
		memcpy(items, ti, n * sizeof(ChatValue *));
		memcpy(keys, tk, n * sizeof(ChatValue *));
	}
}

/* the length Python's len() gives */
static int64_t
Length(ChatRender *r, ChatValue *v)
{
	switch (v->kind)
	{
		case CK_STR:
			return (int64_t) LlmUtf8Count(v->u.s.p, v->u.s.len);
		case CK_LIST:
			if (v->u.list.lazy)
				ChatFail(r, LLM_ERR_ARGUMENT, "object of type 'generator' has no len()");
			return (int64_t) v->u.list.n;
		case CK_DICT:
		case CK_NS:
			return (int64_t) v->u.dict->n;
		case CK_UNDEF:
			return 0;
		default:
			ChatFail(r, LLM_ERR_ARGUMENT, "object of type '%s' has no len()", ChatKindName(v));
	}
}

/* Python int(str) with Jinja's int filter fallbacks; false if not a number */
static bool
ParseInt(ChatValue *v, int base, int64_t *out)
{
	char		buf[128];
	size_t		b = 0;
	char	   *end;
	double		d;

	if (v->u.s.len >= sizeof(buf))
		return false;
	for (size_t i = 0; i < v->u.s.len; i++)
		if (v->u.s.p[i] != '_')
			buf[b++] = v->u.s.p[i];
	buf[b] = '\0';
	errno = 0;
	*out = strtoll(buf, &end, base);
	while (*end == ' ' || (*end >= '\t' && *end <= '\r'))
		end++;
	if (end != buf && *end == '\0' && errno == 0)
		return true;
	d = strtod(buf, &end);
	while (*end == ' ' || (*end >= '\t' && *end <= '\r'))
		end++;
	if (end == buf || *end != '\0' || !isfinite(d) || fabs(d) >= 9.2e18)
		return false;
	*out = (int64_t) d;
	return true;
}

/* ---- filters ---- */

/* select/reject and selectattr/rejectattr */
static ChatValue *
SelectItems(ChatRender *r, ChatValue *v, const ChatArgs *a, bool by_attr, bool keep)
{
	ChatValue  *seq;
	ChatValue  *out;
	size_t		n = 0;
	ChatValue  *attr = by_attr ? ChatArg(a, 0, NULL) : NULL;
	int			first = by_attr ? 1 : 0;
	ChatValue  *testname = ChatArg(a, first, NULL);
	int			tid = -1;
	ChatValue **targs = a->npos > first + 1 ? a->pos + first + 1 : NULL;
	int			ntargs = a->npos > first + 1 ? a->npos - first - 1 : 0;

	if (by_attr && attr == NULL)
		ChatFail(r, LLM_ERR_ARGUMENT, "missing attribute for selectattr/rejectattr");
	if (!ChatTruthy(v))
		return Lazy(ChatList(r, 0));	/* Jinja yields nothing for a false value */
	if (testname)
	{
		ChatNeedStr(r, testname, "test name");
		tid = ChatTestLookup(ChatCStr(r, testname));
		if (tid < 0)
			ChatFail(r, LLM_ERR_ARGUMENT, "no test named '%s'", ChatCStr(r, testname));
	}
	seq = ToList(r, v);
	out = Lazy(ChatList(r, seq->u.list.n));
	for (size_t i = 0; i < seq->u.list.n; i++)
	{
		ChatValue  *item = seq->u.list.items[i];
		ChatValue  *x = by_attr ? AttrPath(r, item, attr) : item;
		bool		ok;

		ChatStep(r, 1);
		ok = tid >= 0 ? ChatApplyTest(r, tid, x, targs, ntargs) : ChatTruthy(x);
		if (ok == keep)
			out->u.list.items[n++] = item;
	}
	out->u.list.n = n;
	return out;
}

/* min/max of an iterable */
static ChatValue *
MinMax(ChatRender *r, ChatValue *v, const ChatArgs *a, bool want_max)
{
	ChatValue  *seq = ToList(r, v);
	bool		cs = BoolArg(a, 0, "case_sensitive", false);
	ChatValue  *attr = ChatArg(a, 1, "attribute");
	ChatValue  *best = NULL;
	ChatValue  *bestkey = NULL;

	for (size_t i = 0; i < seq->u.list.n; i++)
	{
		ChatValue  *item = seq->u.list.items[i];
		ChatValue  *key = FoldKey(r, attr ? AttrPath(r, item, attr) : item, cs);

		ChatStep(r, 1);
		if (best == NULL || (want_max ? ChatCompare(r, key, bestkey, 0) > 0 :
							 ChatCompare(r, key, bestkey, 0) < 0))
		{
			best = item;
			bestkey = key;
		}
	}
	return best ? best : ChatUndef(r, NULL);
}

/* {{ v | indent(width, first, blank) }} */
static ChatValue *
Indent(ChatRender *r, ChatValue *v, const ChatArgs *a)
{
	ChatValue  *w = ChatArg(a, 0, "width");
	bool		first = BoolArg(a, 1, "first", false);
	bool		blank = BoolArg(a, 2, "blank", false);
	ChatBuf		pad = {0};
	ChatBuf		buf = {0};
	ChatValue  *s = v;
	size_t		i = 0;
	bool		line_first = true;

	ChatNeedStr(r, v, "indent");
	if (w == NULL)
		ChatBufPuts(r, &pad, "    ");
	else if (w->kind == CK_STR)
		ChatBufAppend(r, &pad, w->u.s.p, w->u.s.len);
	else
	{
		int64_t		width = ChatIntArg(r, a, 0, "width", 4);

		for (int64_t k = 0; k < width && k < 1000; k++)
			ChatBufPuts(r, &pad, " ");
	}
	while (i <= s->u.s.len)
	{
		size_t		end = i;
		bool		is_blank;

		while (end < s->u.s.len && s->u.s.p[end] != '\n')
			end++;
		is_blank = end == i;
		if ((line_first ? first : true) && (blank || !is_blank) && !(line_first && !first))
			ChatBufAppend(r, &buf, pad.data, pad.len);
		ChatBufAppend(r, &buf, s->u.s.p + i, end - i);
		if (end < s->u.s.len)
			ChatBufAppend(r, &buf, "\n", 1);
		line_first = false;
		i = end + 1;
	}
	return ChatBufToStr(r, &buf);
}

/* transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False) */
static ChatValue *
ToJson(ChatRender *r, ChatValue *v, const ChatArgs *a)
{
	ChatBuf		buf = {0};
	bool		ascii = BoolArg(a, 0, "ensure_ascii", false);
	ChatValue  *ind = ChatArg(a, 1, "indent");
	ChatValue  *seps = ChatArg(a, 2, "separators");
	bool		sort_keys = BoolArg(a, 3, "sort_keys", false);
	int			indent = -1;
	const char *item_sep;
	const char *key_sep = ": ";

	if (ind != NULL && ind->kind != CK_NONE)
	{
		int64_t		n = ChatIntArg(r, a, 1, "indent", 0);

		indent = n < 0 ? 0 : n > 64 ? 64 : (int) n;
	}
	item_sep = indent >= 0 ? "," : ", ";
	if (seps != NULL && seps->kind != CK_NONE)
	{
		if (seps->kind != CK_LIST || seps->u.list.n != 2 ||
			seps->u.list.items[0]->kind != CK_STR || seps->u.list.items[1]->kind != CK_STR)
			ChatFail(r, LLM_ERR_ARGUMENT, "separators must be a pair of strings");
		item_sep = ChatCStr(r, seps->u.list.items[0]);
		key_sep = ChatCStr(r, seps->u.list.items[1]);
	}
	r->json_ascii = ascii;
	ChatAppendJson(r, &buf, v, indent, item_sep, key_sep, sort_keys, 0);
	r->json_ascii = false;
	return ChatBufToStr(r, &buf);
}

/* apply filter fid to v */
ChatValue *
ChatApplyFilter(ChatRender *r, int fid, ChatValue *v, ChatValue **pos, int npos,
				const char **kwnames, ChatValue **kwvals, int nkw)
{
	ChatArgs	a = {pos, npos, kwnames, kwvals, nkw};

	switch ((FilterId) fid)
	{
		case F_ABS:
			if (v->kind == CK_INT)
			{
				if (v->u.i == INT64_MIN)
					ChatFail(r, LLM_ERR_ARGUMENT, "integer overflow");
				return ChatInt(r, v->u.i < 0 ? -v->u.i : v->u.i);
			}
			if (v->kind == CK_FLOAT)
				return ChatFloat(r, fabs(v->u.f));
			if (v->kind == CK_BOOL)
				return ChatInt(r, v->u.b);
			ChatFail(r, LLM_ERR_ARGUMENT, "bad operand type for abs(): '%s'", ChatKindName(v));
		case F_ATTR:
			{
				ChatValue  *name = ChatStrArg(r, &a, 0, "name");

				if (name == NULL)
					ChatFail(r, LLM_ERR_ARGUMENT, "attr needs a name");
				/* a Python attribute, not a dict member */
				if (v->kind == CK_DICT)
					return ChatUndef(r, NULL);
				return ChatGetAttr(r, v, name->u.s.p, name->u.s.len);
			}
		case F_CAPITALIZE:
			return ChatMapCase(r, ChatToStr(r, v), 'c');
		case F_DEFAULT:
			{
				ChatValue  *dflt = ChatArg(&a, 0, "default_value");
				bool		boolean = BoolArg(&a, 1, "boolean", false);

				if (v->kind == CK_UNDEF || (boolean && !ChatTruthy(v)))
					return dflt ? dflt : r->v_empty;
				return v;
			}
		case F_DICTSORT:
			{
				bool		cs = BoolArg(&a, 0, "case_sensitive", false);
				ChatValue  *by = ChatStrArg(r, &a, 1, "by");
				bool		reverse = BoolArg(&a, 2, "reverse", false);
				bool		by_value = by && by->u.s.len == 5 && memcmp(by->u.s.p, "value", 5) == 0;
				ChatValue  *out;
				ChatValue **keys;

				if (v->kind != CK_DICT)
					ChatFail(r, LLM_ERR_ARGUMENT, "dictsort expects a mapping");
				out = ChatList(r, v->u.dict->n);
				keys = ChatAlloc(r, (v->u.dict->n + 1) * sizeof(ChatValue *));
				for (size_t i = 0; i < v->u.dict->n; i++)
				{
					ChatValue  *pair = ChatList(r, 2);

					pair->u.list.tuple = true;
					pair->u.list.items[0] = v->u.dict->keys[i];
					pair->u.list.items[1] = v->u.dict->vals[i];
					out->u.list.items[i] = pair;
					keys[i] = FoldKey(r, by_value ? v->u.dict->vals[i] : v->u.dict->keys[i], cs);
				}
				SortByKeys(r, out->u.list.items, keys, out->u.list.n, reverse);
				return out;
			}
		case F_ESCAPE:
			{
				ChatValue  *s = ChatToStr(r, v);
				ChatBuf		buf = {0};

				for (size_t i = 0; i < s->u.s.len; i++)
				{
					char		c = s->u.s.p[i];

					if (c == '&')
						ChatBufPuts(r, &buf, "&amp;");
					else if (c == '<')
						ChatBufPuts(r, &buf, "&lt;");
					else if (c == '>')
						ChatBufPuts(r, &buf, "&gt;");
					else if (c == '"')
						ChatBufPuts(r, &buf, "&#34;");
					else if (c == '\'')
						ChatBufPuts(r, &buf, "&#39;");
					else
						ChatBufAppend(r, &buf, &c, 1);
				}
				return ChatBufToStr(r, &buf);
			}
		case F_FIRST:
			{
				ChatValue **items;
				size_t		n;

				ChatIterItems(r, v, &items, &n);
				return n ? items[0] : ChatUndef(r, NULL);
			}
		case F_LAST:
			{
				ChatValue **items;
				size_t		n;

				if (v->kind == CK_LIST && v->u.list.lazy)
					ChatFail(r, LLM_ERR_ARGUMENT, "'generator' object is not reversible");
				ChatIterItems(r, v, &items, &n);
				return n ? items[n - 1] : ChatUndef(r, NULL);
			}
		case F_FLOAT:
			{
				ChatValue  *dflt = ChatArg(&a, 0, "default");

				if (ChatIsNumber(v))
					return ChatFloat(r, ChatToDouble(v));
				if (v->kind == CK_STR && v->u.s.len < 100)
				{
					char	   *end;
					const char *s = ChatCStr(r, v);
					double		d = strtod(s, &end);

					while (*end && ChatIsSpace((unsigned char) *end))
						end++;
					if (end != s && *end == '\0')
						return ChatFloat(r, d);
				}
				return dflt ? dflt : ChatFloat(r, 0.0);
			}
		case F_FORMAT:
			ChatNeedStr(r, v, "format");
			return PercentFormat(r, v, &a);
		case F_INDENT:
			return Indent(r, v, &a);
		case F_INT:
			{
				ChatValue  *dflt = ChatArg(&a, 0, "default");
				int64_t		base = ChatIntArg(r, &a, 1, "base", 10);
				int64_t		i;

				if (v->kind == CK_INT)
					return v;
				if (v->kind == CK_BOOL)
					return ChatInt(r, v->u.b);
				if (v->kind == CK_FLOAT && isfinite(v->u.f) && fabs(v->u.f) < 9.2e18)
					return ChatInt(r, (int64_t) v->u.f);
				if (v->kind == CK_STR && base >= 2 && base <= 36 && ParseInt(v, (int) base, &i))
					return ChatInt(r, i);
				return dflt ? dflt : ChatInt(r, 0);
			}
		case F_ITEMS:
			if (v->kind == CK_UNDEF)
				return Lazy(ChatList(r, 0));
			if (v->kind != CK_DICT)
				ChatFail(r, LLM_ERR_ARGUMENT, "Can only get item pairs from a mapping.");
			return Lazy(ChatDictItems(r, v->u.dict));
		case F_JOIN:
			{
				ChatValue  *sep = ChatStrArg(r, &a, 0, "d");
				ChatValue  *attr = ChatArg(&a, 1, "attribute");
				ChatValue **items;
				size_t		n;
				ChatBuf		buf = {0};

				ChatIterItems(r, v, &items, &n);
				for (size_t i = 0; i < n; i++)
				{
					ChatStep(r, 1);
					if (i && sep)
						ChatBufAppend(r, &buf, sep->u.s.p, sep->u.s.len);
					ChatAppendStr(r, &buf, attr ? AttrPath(r, items[i], attr) : items[i], 0);
				}
				return ChatBufToStr(r, &buf);
			}
		case F_LENGTH:
			return ChatInt(r, Length(r, v));
		case F_LIST:
			return ToList(r, v);
		case F_LOWER:
			return ChatMapCase(r, ChatToStr(r, v), 'l');
		case F_UPPER:
			return ChatMapCase(r, ChatToStr(r, v), 'u');
		case F_MAP:
			{
				ChatValue  *seq;
				ChatValue  *out;
				ChatValue  *attr = ChatArg(&a, -1, "attribute");
				ChatValue  *dflt = ChatArg(&a, -1, "default");
				ChatValue  *fname = ChatArg(&a, 0, NULL);
				int			fid2 = -1;

				if (!ChatTruthy(v))
					return Lazy(ChatList(r, 0));
				seq = ToList(r, v);
				out = Lazy(ChatList(r, seq->u.list.n));
				if (attr == NULL)
				{
					if (fname == NULL)
						ChatFail(r, LLM_ERR_ARGUMENT, "map needs a filter name or attribute=");
					ChatNeedStr(r, fname, "map");
					fid2 = ChatFilterLookup(ChatCStr(r, fname));
					if (fid2 < 0)
						ChatFail(r, LLM_ERR_ARGUMENT, "no filter named '%s'", ChatCStr(r, fname));
				}
				for (size_t i = 0; i < seq->u.list.n; i++)
				{
					ChatValue  *item = seq->u.list.items[i];

					ChatStep(r, 1);
					if (attr)
					{
						item = AttrPath(r, item, attr);
						if (item->kind == CK_UNDEF && dflt)
							item = dflt;
					}
					else
						item = ChatApplyFilter(r, fid2, item, pos + 1, npos - 1, NULL, NULL, 0);
					out->u.list.items[i] = item;
				}
				return out;
			}
		case F_MAX:
			return MinMax(r, v, &a, true);
		case F_MIN:
			return MinMax(r, v, &a, false);
		case F_REJECT:
			return SelectItems(r, v, &a, false, false);
		case F_REJECTATTR:
			return SelectItems(r, v, &a, true, false);
		case F_SELECT:
			return SelectItems(r, v, &a, false, true);
		case F_SELECTATTR:
			return SelectItems(r, v, &a, true, true);
		case F_REPLACE:
			{
				ChatValue  *s = ChatToStr(r, v);
				ChatValue  *old = ChatStrArg(r, &a, 0, "old");
				ChatValue  *new = ChatArg(&a, 1, "new");

				if (old == NULL || new == NULL)
					ChatFail(r, LLM_ERR_ARGUMENT, "replace needs two arguments");
				return ChatReplace(r, s, old, ChatToStr(r, new), ChatIntArg(r, &a, 2, "count", -1));
			}
		case F_REVERSE:
			if (v->kind == CK_STR)
				return ChatSlice(r, v, NULL, NULL, ChatInt(r, -1));
			{
				ChatValue  *seq = ToList(r, v);
				ChatValue  *out = Lazy(ChatList(r, seq->u.list.n));

				if (v->kind == CK_LIST && v->u.list.lazy)
					ChatFail(r, LLM_ERR_ARGUMENT, "'generator' object is not reversible");
				for (size_t i = 0; i < seq->u.list.n; i++)
					out->u.list.items[i] = seq->u.list.items[seq->u.list.n - 1 - i];
				return out;
			}
		case F_ROUND:
			{
				int64_t		prec = ChatIntArg(r, &a, 0, "precision", 0);
				ChatValue  *method = ChatStrArg(r, &a, 1, "method");
				double		x;
				double		scale;

				if (!ChatIsNumber(v))
					ChatFail(r, LLM_ERR_ARGUMENT, "round expects a number");
				if (v->kind != CK_FLOAT && prec >= 0 && (method == NULL || (method->u.s.len == 6 &&
															   memcmp(method->u.s.p, "common", 6) == 0)))
					return ChatInt(r, v->kind == CK_INT ? v->u.i : v->u.b);
				if (prec < -20 || prec > 20)
					prec = prec < 0 ? -20 : 20;
				scale = pow(10.0, (double) prec);
				x = ChatToDouble(v) * scale;
				if (method && method->u.s.len == 4 && memcmp(method->u.s.p, "ceil", 4) == 0)
					x = ceil(x);
				else if (method && method->u.s.len == 5 && memcmp(method->u.s.p, "floor", 5) == 0)
					x = floor(x);
				else
					x = nearbyint(x);
				return ChatFloat(r, x / scale);
			}
		case F_SAFE:
		case F_STRING:
			return ChatToStr(r, v);
		case F_SORT:
			{
				bool		reverse = BoolArg(&a, 0, "reverse", false);
				bool		cs = BoolArg(&a, 1, "case_sensitive", false);
				ChatValue  *attr = ChatArg(&a, 2, "attribute");
				ChatValue  *seq = ToList(r, v);
				ChatValue  *out = ChatList(r, seq->u.list.n);
				ChatValue **keys = ChatAlloc(r, (seq->u.list.n + 1) * sizeof(ChatValue *));

				for (size_t i = 0; i < seq->u.list.n; i++)
				{
					out->u.list.items[i] = seq->u.list.items[i];
					keys[i] = FoldKey(r, attr ? AttrPath(r, seq->u.list.items[i], attr) :
									  seq->u.list.items[i], cs);
				}
				SortByKeys(r, out->u.list.items, keys, out->u.list.n, reverse);
				return out;
			}
		case F_SUM:
			{
				ChatValue  *attr = ChatArg(&a, 0, "attribute");
				ChatValue  *total = ChatArg(&a, 1, "start");
				ChatValue  *seq = ToList(r, v);

				if (total == NULL)
					total = ChatInt(r, 0);
				for (size_t i = 0; i < seq->u.list.n; i++)
				{
					ChatValue  *item = seq->u.list.items[i];
					ChatValue  *x = attr ? AttrPath(r, item, attr) : item;

					ChatStep(r, 1);
					if (!ChatIsNumber(total) || !ChatIsNumber(x))
						ChatFail(r, LLM_ERR_ARGUMENT, "sum expects numbers");
					if (total->kind == CK_FLOAT || x->kind == CK_FLOAT)
						total = ChatFloat(r, ChatToDouble(total) + ChatToDouble(x));
					else
					{
						int64_t		res;

						if (__builtin_add_overflow(total->kind == CK_INT ? total->u.i : total->u.b,
												   x->kind == CK_INT ? x->u.i : x->u.b, &res))
							ChatFail(r, LLM_ERR_ARGUMENT, "integer overflow");
						total = ChatInt(r, res);
					}
				}
				return total;
			}
		case F_TITLE:
			return ChatMapCase(r, ChatToStr(r, v), 'j');
		case F_TOJSON:
			return ToJson(r, v, &a);
		case F_TRIM:
			return ChatStrip(r, ChatToStr(r, v), ChatStrArg(r, &a, 0, "chars"), true, true);
		case F_UNIQUE:
			{
				bool		cs = BoolArg(&a, 0, "case_sensitive", false);
				ChatValue  *attr = ChatArg(&a, 1, "attribute");
				ChatValue  *seq = ToList(r, v);
				ChatValue  *out = Lazy(ChatList(r, seq->u.list.n));
				ChatValue **seen = ChatAlloc(r, (seq->u.list.n + 1) * sizeof(ChatValue *));
				size_t		n = 0;

				for (size_t i = 0; i < seq->u.list.n; i++)
				{
					ChatValue  *item = seq->u.list.items[i];
					ChatValue  *key = FoldKey(r, attr ? AttrPath(r, item, attr) : item, cs);
					bool		dup = false;

					ChatStep(r, (int64_t) n);
					for (size_t k = 0; k < n && !dup; k++)
						dup = ChatEqual(r, seen[k], key, 0);
					if (!dup)
					{
						seen[n] = key;
						out->u.list.items[n++] = item;
					}
				}
				out->u.list.n = n;
				return out;
			}
		case F_WORDCOUNT:
			{
				ChatValue  *s = ChatToStr(r, v);
				int64_t		words = 0;
				bool		in_word = false;
				size_t		i = 0;

				while (i < s->u.s.len)
				{
					uint32_t	cp;
					size_t		n = LlmUtf8DecodeLoose(s->u.s.p + i, s->u.s.len - i, &cp);
					bool		w = u_isalnum((UChar32) cp) || cp == '_';

					if (w && !in_word)
						words++;
					in_word = w;
					i += n;
				}
				return ChatInt(r, words);
			}
	}
	ChatFail(r, LLM_ERR_ARGUMENT, "unknown filter");
}

/* ---- tests ---- */

/* apply test tid to v */
bool
ChatApplyTest(ChatRender *r, int tid, ChatValue *v, ChatValue **args, int nargs)
{
	ChatValue  *arg = nargs > 0 ? args[0] : NULL;

	switch ((TestId) tid)
	{
		case T_DEFINED:
			return v->kind != CK_UNDEF;
		case T_UNDEFINED:
			return v->kind == CK_UNDEF;
		case T_NONE:
			return v->kind == CK_NONE;
		case T_BOOLEAN:
			return v->kind == CK_BOOL;
		case T_FALSE:
			return v->kind == CK_BOOL && !v->u.b;
		case T_TRUE:
			return v->kind == CK_BOOL && v->u.b;
		case T_INTEGER:
			return v->kind == CK_INT;
		case T_FLOAT:
			return v->kind == CK_FLOAT;
		case T_NUMBER:
			return ChatIsNumber(v);
		case T_STRING:
			return v->kind == CK_STR;
		case T_MAPPING:
			return v->kind == CK_DICT;
		case T_SEQUENCE:
			return v->kind == CK_STR || v->kind == CK_LIST || v->kind == CK_DICT ||
				v->kind == CK_UNDEF;
		case T_ITERABLE:
			return v->kind == CK_STR || v->kind == CK_LIST || v->kind == CK_DICT ||
				v->kind == CK_UNDEF;
		case T_CALLABLE:
			return v->kind == CK_MACRO || v->kind == CK_FUNC;
		case T_SAMEAS:
			if (arg == NULL)
				ChatFail(r, LLM_ERR_ARGUMENT, "sameas needs an argument");
			if (v->kind != arg->kind)
				return false;
			if (v->kind == CK_NONE || v->kind == CK_UNDEF)
				return true;
			if (v->kind == CK_BOOL)
				return v->u.b == arg->u.b;
			return v == arg || (v->kind == CK_INT && v->u.i == arg->u.i &&
								v->u.i >= -5 && v->u.i <= 256);
		case T_ODD:
		case T_EVEN:
		case T_DIVISIBLEBY:
			{
				int64_t		x;
				int64_t		d = 2;

				if (v->kind == CK_FLOAT || (arg && arg->kind == CK_FLOAT && tid == T_DIVISIBLEBY))
				{
					/* Python's float modulo */
					double		d2 = tid == T_DIVISIBLEBY && arg && ChatIsNumber(arg) ?
						ChatToDouble(arg) : 2.0;
					double		m;

					if (!ChatIsNumber(v) || d2 == 0)
						ChatFail(r, LLM_ERR_ARGUMENT, "bad operands for a divisibility test");
					m = fmod(ChatToDouble(v), d2);
					if (m != 0 && ((m < 0) != (d2 < 0)))
						m += d2;
					return tid == T_ODD ? m == 1 : m == 0;
				}
				if (v->kind != CK_INT && v->kind != CK_BOOL)
					ChatFail(r, LLM_ERR_ARGUMENT, "unsupported operand type(s) for %%: '%s' and 'int'",
							 ChatKindName(v));
				x = v->kind == CK_INT ? v->u.i : v->u.b;
				if (tid == T_DIVISIBLEBY)
				{
					if (arg == NULL || (arg->kind != CK_INT && arg->kind != CK_BOOL))
						ChatFail(r, LLM_ERR_ARGUMENT, "divisibleby expects an integer");
					d = arg->kind == CK_INT ? arg->u.i : arg->u.b;
					if (d == 0)
						ChatFail(r, LLM_ERR_ARGUMENT, "integer division or modulo by zero");
					if (d == -1)
						return true;
					return x % d == 0;
				}
				return (x % 2 != 0) == (tid == T_ODD);
			}
		case T_LOWER:
			return ChatStrIs(ChatToStr(r, v), 'l');
		case T_UPPER:
			return ChatStrIs(ChatToStr(r, v), 'u');
		case T_ESCAPED:
			return false;
		default:
			break;
	}
	if (arg == NULL)
		ChatFail(r, LLM_ERR_ARGUMENT, "test needs an argument");
	switch ((TestId) tid)
	{
		case T_IN:
			{
				ChatValue **items;
				size_t		n;

				if (arg->kind == CK_STR)
				{
					ChatNeedStr(r, v, "'in <string>'");
					return ChatSearch(r, arg, v, false, false) >= 0;
				}
				if (arg->kind == CK_DICT || arg->kind == CK_NS)
					return ChatDictGet(arg->u.dict, v) != NULL;
				ChatIterItems(r, arg, &items, &n);
				for (size_t i = 0; i < n; i++)
					if (ChatEqual(r, items[i], v, 0))
						return true;
				return false;
			}
		case T_EQ:
			return ChatEqual(r, v, arg, 0);
		case T_NE:
			return !ChatEqual(r, v, arg, 0);
		case T_GT:
			return ChatCompare(r, v, arg, 0) > 0;
		case T_GE:
			return ChatCompare(r, v, arg, 0) >= 0;
		case T_LT:
			return ChatCompare(r, v, arg, 0) < 0;
		case T_LE:
			return ChatCompare(r, v, arg, 0) <= 0;
		default:
			ChatFail(r, LLM_ERR_ARGUMENT, "unknown test");
	}
}
