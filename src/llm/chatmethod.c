/*-------------------------------------------------------------------------
 *
 * chatmethod.c
 *	  Methods and global functions of the chat-template interpreter.
 *
 * Methods are the Python str, dict and list methods an
 * ImmutableSandboxedEnvironment allows; the mutating ones fail as they do
 * there.  Global functions are range (capped like the sandbox's),
 * namespace, dict, raise_exception and strftime_now, as transformers
 * defines them.  The str operations are shared with the filters that do
 * the same thing (chatfilter.c).
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <time.h>

#include <unicode/uchar.h>

#include "llm/chatinternal.h"

#define MAX_RANGE 100000		/* the sandbox's MAX_RANGE */

/* ---- str operations ---- */

/* is cp in the code points of set (a string value)? */
static bool
InSet(uint32_t cp, const ChatValue *set)
{
	size_t		i = 0;

	while (i < set->u.s.len)
	{
		uint32_t	c;

		i += LlmUtf8DecodeLoose(set->u.s.p + i, set->u.s.len - i, &c);
		if (c == cp)
			return true;
	}
	return false;
}

/* str.strip / lstrip / rstrip (chars NULL: whitespace) */
ChatValue *
ChatStrip(ChatRender *r, ChatValue *s, ChatValue *chars, bool left, bool right)
{
	const char *p = s->u.s.p;
	size_t		start = 0;
	size_t		end = s->u.s.len;

	ChatStep(r, (int64_t) s->u.s.len / 16);
	while (left && start < end)
	{
		uint32_t	cp;
		size_t		n = LlmUtf8DecodeLoose(p + start, end - start, &cp);

		if (!(chars ? InSet(cp, chars) : ChatIsSpace(cp)))
			break;
		start += n;
	}
	while (right && end > start)
	{
		size_t		b = end - 1;
		uint32_t	cp;
		size_t		n;

		while (b > start && ((unsigned char) p[b] & 0xC0) == 0x80 && end - b < 4)
			b--;
		n = LlmUtf8DecodeLoose(p + b, end - b, &cp);
		if (n != end - b)
		{
			b = end - 1;		/* a stray continuation byte */
			cp = (unsigned char) p[b];
		}
		if (!(chars ? InSet(cp, chars) : ChatIsSpace(cp)))
			break;
		end = b;
	}
	return ChatStrRef(r, p + start, end - start);
}

/* case conversion of one code point: 'u' upper, 'l' lower, 't' title */
static uint32_t
CaseMap(uint32_t cp, char how)
{
	return how == 'u' ? (uint32_t) u_toupper((UChar32) cp) :
		how == 'l' ? (uint32_t) u_tolower((UChar32) cp) : (uint32_t) u_totitle((UChar32) cp);
}

/*
 * Map the case of a string.  mode: 'u' upper, 'l' lower, 'c' capitalize
 * (first upper, rest lower), 't' Python title (first letter of each run of
 * letters upper), 'j' Jinja's title (first character after - space ( { [ <
 * upper).
 */
ChatValue *
ChatMapCase(ChatRender *r, ChatValue *s, char mode)
{
	ChatBuf		buf = {0};
	size_t		i = 0;
	bool		start = true;	/* at a word start */

	ChatStep(r, (int64_t) s->u.s.len / 16);
	while (i < s->u.s.len)
	{
		uint32_t	cp;
		size_t		n = LlmUtf8DecodeLoose(s->u.s.p + i, s->u.s.len - i, &cp);
		char		enc[4];
		char		how;

		if (n == 1 && cp >= 0x80)
		{
			/* not UTF-8: keep the byte */
			ChatBufAppend(r, &buf, s->u.s.p + i, 1);
			i++;
			start = false;
			continue;
		}
		switch (mode)
		{
			case 'u':
				how = 'u';
				break;
			case 'l':
				how = 'l';
				break;
			case 'c':
				how = i == 0 ? 't' : 'l';
				break;
			case 't':
				how = start ? 't' : 'l';
				start = !u_isalpha((UChar32) cp);
				break;
			default:
				how = start ? 't' : 'l';
				start = ChatIsSpace(cp) || cp == '-' || cp == '(' || cp == '{' ||
					cp == '[' || cp == '<';
				break;
		}
		if (cp == 0xDF && how == 'u')
			ChatBufAppend(r, &buf, "SS", 2);
		else
			ChatBufAppend(r, &buf, enc, LlmUtf8Encode(CaseMap(cp, how), enc));
		i += n;
	}
	return ChatBufToStr(r, &buf);
}

/* str.replace(old, new, count) */
ChatValue *
ChatReplace(ChatRender *r, ChatValue *s, ChatValue *old, ChatValue *new, int64_t count)
{
	ChatBuf		buf = {0};
	size_t		i = 0;
	int64_t		done = 0;

	ChatStep(r, (int64_t) s->u.s.len / 16);
	if (old->u.s.len == 0)
	{
		/* insert new before every character and at the end */
		while (i <= s->u.s.len)
		{
			uint32_t	cp;
			size_t		n;

			if (count >= 0 && done >= count)
				break;
			ChatBufAppend(r, &buf, new->u.s.p, new->u.s.len);
			done++;
			if (i == s->u.s.len)
			{
				i++;
				break;
			}
			n = LlmUtf8DecodeLoose(s->u.s.p + i, s->u.s.len - i, &cp);
			ChatBufAppend(r, &buf, s->u.s.p + i, n);
			i += n;
		}
		if (i < s->u.s.len)
			ChatBufAppend(r, &buf, s->u.s.p + i, s->u.s.len - i);
		return ChatBufToStr(r, &buf);
	}
	while (i < s->u.s.len)
	{
		if ((count < 0 || done < count) && s->u.s.len - i >= old->u.s.len &&
			memcmp(s->u.s.p + i, old->u.s.p, old->u.s.len) == 0)
		{
			ChatBufAppend(r, &buf, new->u.s.p, new->u.s.len);
			i += old->u.s.len;
			done++;
		}
		else
		{
			ChatBufAppend(r, &buf, s->u.s.p + i, 1);
			i++;
		}
	}
	return ChatBufToStr(r, &buf);
}

/* does s contain t at byte offset i? */
static bool
MatchAt(const ChatValue *s, size_t i, const ChatValue *t)
{
	return s->u.s.len - i >= t->u.s.len && memcmp(s->u.s.p + i, t->u.s.p, t->u.s.len) == 0;
}

/* str.split / rsplit (sep NULL: runs of whitespace) */
static ChatValue *
Split(ChatRender *r, ChatValue *s, ChatValue *sep, int64_t maxsplit, bool from_right)
{
	ChatValue **parts;
	size_t		nparts = 0;
	size_t		cap = 8;
	const char *p = s->u.s.p;
	size_t		len = s->u.s.len;
	ChatValue  *out;

	if (sep && sep->u.s.len == 0)
		ChatFail(r, LLM_ERR_ARGUMENT, "empty separator");
	ChatStep(r, (int64_t) len / 16);
	parts = ChatAlloc(r, cap * sizeof(ChatValue *));
#define ADD(ptr, n) \
	do { \
		if (nparts == cap) \
		{ \
			ChatValue **np_ = ChatAlloc(r, cap * 2 * sizeof(ChatValue *)); \
			memcpy(np_, parts, nparts * sizeof(ChatValue *)); \
			parts = np_; \
			cap *= 2; \
		} \
		parts[nparts++] = ChatStrRef(r, (ptr), (n)); \
	} while (0)
	if (sep == NULL)
	{
		size_t		i = 0;

		if (from_right)
			ChatFail(r, LLM_ERR_UNSUPPORTED, "rsplit without a separator is not supported");
		for (;;)
		{
			size_t		start;
			uint32_t	cp;
			size_t		n;

			while (i < len && (n = LlmUtf8DecodeLoose(p + i, len - i, &cp)) && ChatIsSpace(cp))
				i += n;
			if (i >= len)
				break;
			if (maxsplit >= 0 && (int64_t) nparts >= maxsplit)
			{
				/* the rest, without trailing whitespace */
				ChatValue  *rest = ChatStrip(r, ChatStrRef(r, p + i, len - i), NULL, false, true);

				ADD(rest->u.s.p, rest->u.s.len);
				break;
			}
			start = i;
			while (i < len && (n = LlmUtf8DecodeLoose(p + i, len - i, &cp)) && !ChatIsSpace(cp))
				i += n;
			ADD(p + start, i - start);
		}
	}
	else if (!from_right)
	{
		size_t		start = 0;
		size_t		i = 0;

		while (i + sep->u.s.len <= len)
		{
			if ((maxsplit < 0 || (int64_t) nparts < maxsplit) && MatchAt(s, i, sep))
			{
				ADD(p + start, i - start);
				i += sep->u.s.len;
				start = i;
			}
			else
				i++;
		}
		ADD(p + start, len - start);
	}
	else
	{
		size_t		end = len;
		size_t		i = len;
		size_t		k;

		while (i >= sep->u.s.len)
		{
			if ((maxsplit < 0 || (int64_t) nparts < maxsplit) &&
				MatchAt(s, i - sep->u.s.len, sep))
			{
				ADD(p + i, end - i);
				i -= sep->u.s.len;
				end = i;
			}
			else
				i--;
		}
		ADD(p, end);
		/* collected right to left */
		for (k = 0; k < nparts / 2; k++)
		{
			ChatValue  *t = parts[k];

			parts[k] = parts[nparts - 1 - k];
			parts[nparts - 1 - k] = t;
		}
	}
#undef ADD
	out = ChatList(r, nparts);
	if (nparts)
		memcpy(out->u.list.items, parts, nparts * sizeof(ChatValue *));
	return out;
}

/* str.splitlines() */
static ChatValue *
SplitLines(ChatRender *r, ChatValue *s)
{
	ChatValue  *out;
	size_t		n = 0;
	size_t		start = 0;
	size_t		i = 0;
	ChatValue **parts = ChatAlloc(r, (s->u.s.len + 1) * sizeof(ChatValue *));

	ChatStep(r, (int64_t) s->u.s.len / 16);
	while (i < s->u.s.len)
	{
		uint32_t	cp;
		size_t		w = LlmUtf8DecodeLoose(s->u.s.p + i, s->u.s.len - i, &cp);

		if (cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C ||
			cp == 0x1D || cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029)
		{
			parts[n++] = ChatStrRef(r, s->u.s.p + start, i - start);
			if (cp == '\r' && i + 1 < s->u.s.len && s->u.s.p[i + 1] == '\n')
				w++;
			start = i + w;
		}
		i += w;
	}
	if (start < s->u.s.len)
		parts[n++] = ChatStrRef(r, s->u.s.p + start, s->u.s.len - start);
	out = ChatList(r, n);
	if (n)
		memcpy(out->u.list.items, parts, n * sizeof(ChatValue *));
	return out;
}

/* str.startswith / endswith with a string or a tuple of strings */
static bool
AffixMatch(ChatRender *r, ChatValue *s, ChatValue *affix, bool end)
{
	if (affix == NULL)
		ChatFail(r, LLM_ERR_ARGUMENT, "startswith/endswith need an argument");
	if (affix->kind == CK_LIST)
	{
		for (size_t i = 0; i < affix->u.list.n; i++)
			if (AffixMatch(r, s, affix->u.list.items[i], end))
				return true;
		return false;
	}
	ChatNeedStr(r, affix, "startswith/endswith");
	if (affix->u.s.len > s->u.s.len)
		return false;
	return memcmp(s->u.s.p + (end ? s->u.s.len - affix->u.s.len : 0), affix->u.s.p,
				  affix->u.s.len) == 0;
}

/* count or find a substring; returns count, or the code-point index (-1) */
int64_t
ChatSearch(ChatRender *r, ChatValue *s, ChatValue *sub, bool count, bool reverse)
{
	int64_t		found = count ? 0 : -1;

	ChatStep(r, (int64_t) s->u.s.len / 16);
	if (sub->u.s.len == 0)
		return count ? (int64_t) LlmUtf8Count(s->u.s.p, s->u.s.len) + 1 :
			reverse ? (int64_t) LlmUtf8Count(s->u.s.p, s->u.s.len) : 0;
	for (size_t i = 0; i + sub->u.s.len <= s->u.s.len;)
	{
		if (MatchAt(s, i, sub))
		{
			if (!count)
			{
				found = (int64_t) LlmUtf8Count(s->u.s.p, i);
				if (!reverse)
					return found;
				i++;
				continue;
			}
			found++;
			i += sub->u.s.len;
		}
		else
			i++;
	}
	return found;
}

/* Python str.is...() predicates; kind: d digit, a alpha, n alnum, s space, l lower, u upper */
bool
ChatStrIs(const ChatValue *s, char kind)
{
	size_t		i = 0;
	bool		cased = false;

	if (s->u.s.len == 0)
		return false;
	while (i < s->u.s.len)
	{
		uint32_t	cp;
		size_t		n = LlmUtf8DecodeLoose(s->u.s.p + i, s->u.s.len - i, &cp);

		i += n;
		switch (kind)
		{
			case 'd':
				if (!u_isdigit((UChar32) cp))
					return false;
				break;
			case 'a':
				if (!u_isalpha((UChar32) cp))
					return false;
				break;
			case 'n':
				if (!u_isalnum((UChar32) cp))
					return false;
				break;
			case 's':
				if (!ChatIsSpace(cp))
					return false;
				break;
			case 'l':
				if (u_isupper((UChar32) cp) || u_istitle((UChar32) cp))
					return false;
				if (u_islower((UChar32) cp))
					cased = true;
				break;
			case 'u':
				if (u_islower((UChar32) cp) || u_istitle((UChar32) cp))
					return false;
				if (u_isupper((UChar32) cp))
					cased = true;
				break;
		}
	}
	return (kind == 'l' || kind == 'u') ? cased : true;
}

/* str.format with {} {0} {name} fields and {{ }} escapes */
static ChatValue *
Format(ChatRender *r, ChatValue *fmt, const ChatArgs *a)
{
	ChatBuf		buf = {0};
	size_t		i = 0;
	int			next = 0;
	const char *p = fmt->u.s.p;
	size_t		len = fmt->u.s.len;

	while (i < len)
	{
		if (p[i] == '{' && i + 1 < len && p[i + 1] == '{')
		{
			ChatBufAppend(r, &buf, "{", 1);
			i += 2;
		}
		else if (p[i] == '}' && i + 1 < len && p[i + 1] == '}')
		{
			ChatBufAppend(r, &buf, "}", 1);
			i += 2;
		}
		else if (p[i] == '{')
		{
			size_t		end = i + 1;
			ChatValue  *v = NULL;
			char		name[64];
			size_t		nl;

			while (end < len && p[end] != '}')
				end++;
			if (end >= len)
				ChatFail(r, LLM_ERR_ARGUMENT, "single '{' encountered in format string");
			nl = end - i - 1;
			if (nl >= sizeof(name) || memchr(p + i + 1, ':', nl) || memchr(p + i + 1, '!', nl))
				ChatFail(r, LLM_ERR_UNSUPPORTED, "format specifications are not supported");
			memcpy(name, p + i + 1, nl);
			name[nl] = '\0';
			if (nl == 0)
				v = ChatArg(a, next++, NULL);
			else if (name[0] >= '0' && name[0] <= '9')
				v = ChatArg(a, atoi(name), NULL);
			else
				v = ChatArg(a, -1, name);
			if (v == NULL)
				ChatFail(r, LLM_ERR_ARGUMENT, "format field '%s' has no value", name);
			ChatAppendStr(r, &buf, v, 0);
			i = end + 1;
		}
		else if (p[i] == '}')
			ChatFail(r, LLM_ERR_ARGUMENT, "single '}' encountered in format string");
		else
		{
			ChatBufAppend(r, &buf, p + i, 1);
			i++;
		}
	}
	return ChatBufToStr(r, &buf);
}

/* ---- dict operations ---- */

/* dict.items(): (key, value) tuples, a list with a length */
ChatValue *
ChatDictItems(ChatRender *r, ChatDict *d)
{
	ChatValue  *out = ChatList(r, d->n);

	for (size_t i = 0; i < d->n; i++)
	{
		ChatValue  *pair = ChatList(r, 2);

		pair->u.list.tuple = true;
		pair->u.list.items[0] = d->keys[i];
		pair->u.list.items[1] = d->vals[i];
		out->u.list.items[i] = pair;
	}
	return out;
}

/* ---- methods ---- */

/* is name the method m? */
#define IS(m) (strcmp(name, (m)) == 0)

/* str methods */
static ChatValue *
StrMethod(ChatRender *r, ChatValue *s, const char *name, const ChatArgs *a)
{
	if (IS("strip") || IS("lstrip") || IS("rstrip"))
		return ChatStrip(r, s, ChatStrArg(r, a, 0, "chars"), name[0] != 'r', name[0] != 'l');
	if (IS("split") || IS("rsplit"))
		return Split(r, s, ChatStrArg(r, a, 0, "sep"), ChatIntArg(r, a, 1, "maxsplit", -1),
					 name[0] == 'r');
	if (IS("splitlines"))
		return SplitLines(r, s);
	if (IS("startswith") || IS("endswith"))
		return ChatBool(r, AffixMatch(r, s, ChatArg(a, 0, NULL), name[0] == 'e'));
	if (IS("upper"))
		return ChatMapCase(r, s, 'u');
	if (IS("lower"))
		return ChatMapCase(r, s, 'l');
	if (IS("title"))
		return ChatMapCase(r, s, 't');
	if (IS("capitalize"))
		return ChatMapCase(r, s, 'c');
	if (IS("replace"))
	{
		ChatValue  *old = ChatStrArg(r, a, 0, "old");
		ChatValue  *new = ChatStrArg(r, a, 1, "new");

		if (old == NULL || new == NULL)
			ChatFail(r, LLM_ERR_ARGUMENT, "replace needs two strings");
		return ChatReplace(r, s, old, new, ChatIntArg(r, a, 2, "count", -1));
	}
	if (IS("find") || IS("rfind") || IS("count") || IS("index") || IS("rindex"))
	{
		ChatValue  *sub = ChatStrArg(r, a, 0, "sub");
		int64_t		res;

		if (sub == NULL)
			ChatFail(r, LLM_ERR_ARGUMENT, "%s needs a string", name);
		res = ChatSearch(r, s, sub, IS("count"), name[0] == 'r');
		if (res < 0 && (IS("index") || IS("rindex")))
			ChatFail(r, LLM_ERR_ARGUMENT, "substring not found");
		return ChatInt(r, res);
	}
	if (IS("join"))
	{
		ChatValue  *seq = ChatArg(a, 0, NULL);
		ChatValue **items;
		size_t		n;
		ChatBuf		buf = {0};

		if (seq == NULL)
			ChatFail(r, LLM_ERR_ARGUMENT, "join needs an iterable");
		ChatIterItems(r, seq, &items, &n);
		for (size_t i = 0; i < n; i++)
		{
			ChatStep(r, 1);
			if (items[i]->kind != CK_STR)
				ChatFail(r, LLM_ERR_ARGUMENT, "sequence item %zu: expected str instance, %s found",
						 i, ChatKindName(items[i]));
			if (i)
				ChatBufAppend(r, &buf, s->u.s.p, s->u.s.len);
			ChatBufAppend(r, &buf, items[i]->u.s.p, items[i]->u.s.len);
		}
		return ChatBufToStr(r, &buf);
	}
	if (IS("isdigit"))
		return ChatBool(r, ChatStrIs(s, 'd'));
	if (IS("isalpha"))
		return ChatBool(r, ChatStrIs(s, 'a'));
	if (IS("isalnum"))
		return ChatBool(r, ChatStrIs(s, 'n'));
	if (IS("isspace"))
		return ChatBool(r, ChatStrIs(s, 's'));
	if (IS("islower"))
		return ChatBool(r, ChatStrIs(s, 'l'));
	if (IS("isupper"))
		return ChatBool(r, ChatStrIs(s, 'u'));
	if (IS("format"))
		return Format(r, s, a);
	ChatFail(r, LLM_ERR_ARGUMENT, "'str object' has no attribute '%s'", name);
}

/* call obj.name(args) */
ChatValue *
ChatCallMethod(ChatRender *r, ChatValue *obj, const char *name, ChatValue **pos,
			   int npos, const char **kwnames, ChatValue **kwvals, int nkw)
{
	ChatArgs	a = {pos, npos, kwnames, kwvals, nkw};

	switch (obj->kind)
	{
		case CK_STR:
			return StrMethod(r, obj, name, &a);
		case CK_DICT:
			if (IS("get"))
			{
				ChatValue  *key = ChatArg(&a, 0, NULL);
				ChatValue  *dflt = ChatArg(&a, 1, NULL);
				ChatValue  *v;

				if (key == NULL)
					ChatFail(r, LLM_ERR_ARGUMENT, "get expected at least 1 argument");
				v = ChatDictGet(obj->u.dict, key);
				return v ? v : dflt ? dflt : r->v_none;
			}
			if (IS("items"))
				return ChatDictItems(r, obj->u.dict);	/* dict_items has a length */
			if (IS("keys") || IS("values"))
			{
				ChatValue  *out = ChatList(r, obj->u.dict->n);

				for (size_t i = 0; i < obj->u.dict->n; i++)
					out->u.list.items[i] = IS("keys") ? obj->u.dict->keys[i] :
						obj->u.dict->vals[i];
				return out;
			}
			if (IS("update") || IS("pop") || IS("popitem") || IS("setdefault") || IS("clear"))
				ChatFail(r, LLM_ERR_ARGUMENT, "access to attribute '%s' of 'dict' object is unsafe",
						 name);
			break;
		case CK_LIST:
			if (IS("index") || IS("count"))
			{
				ChatValue  *x = ChatArg(&a, 0, NULL);
				int64_t		count = 0;

				if (x == NULL)
					ChatFail(r, LLM_ERR_ARGUMENT, "%s needs an argument", name);
				for (size_t i = 0; i < obj->u.list.n; i++)
				{
					ChatStep(r, 1);
					if (ChatEqual(r, obj->u.list.items[i], x, 0))
					{
						if (IS("index"))
							return ChatInt(r, (int64_t) i);
						count++;
					}
				}
				if (IS("index"))
					ChatFail(r, LLM_ERR_ARGUMENT, "value is not in list");
				return ChatInt(r, count);
			}
			if (IS("append") || IS("extend") || IS("insert") || IS("pop") || IS("remove") ||
				IS("reverse") || IS("sort") || IS("clear"))
				ChatFail(r, LLM_ERR_ARGUMENT, "access to attribute '%s' of 'list' object is unsafe",
						 name);
			break;
		case CK_LOOP:
			if (IS("cycle"))
			{
				if (npos == 0)
					ChatFail(r, LLM_ERR_ARGUMENT, "no items for cycling given");
				return pos[obj->u.loop->index0 % (size_t) npos];
			}
			break;
		default:
			break;
	}
	ChatFail(r, LLM_ERR_ARGUMENT, "'%s object' has no attribute '%s'", ChatKindName(obj), name);
}

#undef IS

/* ---- global functions ---- */

/* range(), namespace(), dict(), raise_exception(), strftime_now() */
ChatValue *
ChatCallFunc(ChatRender *r, ChatFunc f, ChatValue **pos, int npos,
			 const char **kwnames, ChatValue **kwvals, int nkw)
{
	ChatArgs	a = {pos, npos, kwnames, kwvals, nkw};

	switch (f)
	{
		case CF_RANGE:
			{
				int64_t		start = 0;
				int64_t		stop;
				int64_t		step = 1;
				int64_t		n;
				ChatValue  *out;

				if (npos == 0 || npos > 3)
					ChatFail(r, LLM_ERR_ARGUMENT, "range expected 1 to 3 arguments");
				if (npos == 1)
					stop = ChatIntArg(r, &a, 0, "stop", 0);
				else
				{
					start = ChatIntArg(r, &a, 0, "start", 0);
					stop = ChatIntArg(r, &a, 1, "stop", 0);
					step = ChatIntArg(r, &a, 2, "step", 1);
				}
				if (step == 0)
					ChatFail(r, LLM_ERR_ARGUMENT, "range() arg 3 must not be zero");
				if (step > 0)
					n = stop > start ? (int64_t) (((double) stop - (double) start - 1) / (double) step) + 1 : 0;
				else
					n = stop < start ? (int64_t) (((double) start - (double) stop - 1) / (double) -step) + 1 : 0;
				if (n > MAX_RANGE)
					ChatFail(r, LLM_ERR_ARGUMENT,
							 "Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).",
							 MAX_RANGE);
				out = ChatList(r, (size_t) n);
				ChatStep(r, n);
				for (int64_t i = 0; i < n; i++)
					out->u.list.items[i] = ChatInt(r, start + i * step);
				return out;
			}
		case CF_NAMESPACE:
		case CF_DICT:
			{
				ChatValue  *out = ChatNewDict(r, f == CF_NAMESPACE ? CK_NS : CK_DICT);

				for (int i = 0; i < npos; i++)
				{
					if (pos[i]->kind != CK_DICT)
						ChatFail(r, LLM_ERR_ARGUMENT, "%s() positional arguments must be mappings",
								 f == CF_NAMESPACE ? "namespace" : "dict");
					for (size_t k = 0; k < pos[i]->u.dict->n; k++)
						ChatDictSet(r, out->u.dict, pos[i]->u.dict->keys[k],
									pos[i]->u.dict->vals[k]);
				}
				for (int i = 0; i < nkw; i++)
					ChatDictSet(r, out->u.dict, ChatStrRef(r, kwnames[i], strlen(kwnames[i])),
								kwvals[i]);
				return out;
			}
		case CF_RAISE:
			{
				ChatBuf		buf = {0};

				if (npos > 0)
					ChatAppendStr(r, &buf, pos[0], 0);
				LlmSetError(r->err, LLM_ERR_ARGUMENT, "%s", buf.len ? buf.data : "");
				r->errcode = LLM_ERR_ARGUMENT;
				longjmp(r->jump, 1);
			}
		case CF_STRFTIME:
			{
				ChatValue  *fmt = ChatStrArg(r, &a, 0, "format");
				time_t		now = time(NULL);
				struct tm	tm;
				char		out[512];
				size_t		n;

				if (fmt == NULL || fmt->u.s.len > 200)
					ChatFail(r, LLM_ERR_ARGUMENT, "strftime_now needs a format string");
				localtime_r(&now, &tm);
				n = strftime(out, sizeof(out), ChatCStr(r, fmt), &tm);
				return ChatStr(r, out, n);
			}
	}
	ChatFail(r, LLM_ERR_ARGUMENT, "unknown function");
}
