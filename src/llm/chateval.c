/*-------------------------------------------------------------------------
 *
 * chateval.c
 *	  Evaluator of the chat-template interpreter: walks the syntax tree,
 *	  writing text to the render's output buffer.
 *
 * Scoping follows Jinja: each for-loop iteration and each macro call gets
 * a fresh scope (so {% set %} inside a loop does not leak out, which is
 * why templates use namespace()), while if-blocks share their parent's.
 * Undefined values behave like jinja2's default Undefined: they print as
 * nothing, are false and iterate as empty, but reading an attribute of
 * one or doing arithmetic with one is an error.  Every node evaluated and
 * every loop iteration counts towards CHAT_MAX_STEPS.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>

#include "llm/chatinternal.h"

typedef enum Flow
{
	FLOW_NEXT,
	FLOW_BREAK,
	FLOW_CONTINUE
} Flow;

static ChatValue *Eval(ChatRender *r, const ChatNode *n, ChatScope *s);
static Flow ExecBody(ChatRender *r, ChatNode **body, int n, ChatScope *scope);

/* the input of a filter chain with no operand ({% filter %}, block set) */
typedef struct FilterHole
{
	ChatValue  *value;
} FilterHole;

/* remember the node being evaluated, for error positions */
static void
At(ChatRender *r, const ChatNode *n)
{
	r->line = n->line;
	r->col = n->col;
}

/* ---- scopes ---- */

ChatScope *
ChatNewScope(ChatRender *r, ChatScope *parent)
{
	ChatScope  *s = ChatAlloc(r, sizeof(ChatScope));

	s->parent = parent;
	return s;
}

/* set a variable in scope s itself */
void
ChatScopeSet(ChatRender *r, ChatScope *s, const char *name, ChatValue *v)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
		{
			s->vals[i] = v;
			return;
		}
	if (s->n == s->cap)
	{
		size_t		ncap = s->cap ? s->cap * 2 : 4;
		const char **names = ChatAlloc(r, ncap * sizeof(char *));
		ChatValue **vals = ChatAlloc(r, ncap * sizeof(ChatValue *));

		if (s->n)
		{
			memcpy(names, s->names, s->n * sizeof(char *));
			memcpy(vals, s->vals, s->n * sizeof(ChatValue *));
		}
		s->names = names;
		s->vals = vals;
		s->cap = ncap;
	}
	s->names[s->n] = name;
	s->vals[s->n] = v;
	s->n++;
}

/* look a name up through the scope chain, then the global functions */
static ChatValue *
Lookup(ChatRender *r, ChatScope *s, const char *name)
{
	static const struct
	{
		const char *name;
		ChatFunc	func;
	}			globals[] =
	{
		{"range", CF_RANGE},
		{"namespace", CF_NAMESPACE},
		{"raise_exception", CF_RAISE},
		{"strftime_now", CF_STRFTIME},
		{"dict", CF_DICT},
	};

	for (; s != NULL; s = s->parent)
	{
		ChatStep(r, (int64_t) s->n / 8);
		for (size_t i = 0; i < s->n; i++)
			if (strcmp(s->names[i], name) == 0)
				return s->vals[i];
	}
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++)
		if (strcmp(globals[i].name, name) == 0)
		{
			ChatValue  *v = ChatNewValue(r, CK_FUNC);

			v->u.func = globals[i].func;
			return v;
		}
	return ChatUndef(r, name);
}

/* fail because v is undefined */
static void
__attribute__((noreturn))
FailUndefined(ChatRender *r, const ChatValue *v)
{
	if (v->name)
		ChatFail(r, LLM_ERR_ARGUMENT, "'%s' is undefined", v->name);
	ChatFail(r, LLM_ERR_ARGUMENT, "value is undefined");
}

/* ---- access ---- */

/* the items iterated by a for loop over v */
void
ChatIterItems(ChatRender *r, ChatValue *v, ChatValue ***items, size_t *n)
{
	switch (v->kind)
	{
		case CK_LIST:
			*items = v->u.list.items;
			*n = v->u.list.n;
			return;
		case CK_DICT:
			*items = v->u.dict->keys;
			*n = v->u.dict->n;
			return;
		case CK_STR:
			{
				size_t		count = LlmUtf8Count(v->u.s.p, v->u.s.len);
				ChatValue **chars = ChatAlloc(r, (count ? count : 1) * sizeof(ChatValue *));
				size_t		off = 0;

				ChatStep(r, (int64_t) count);
				for (size_t i = 0; i < count; i++)
				{
					uint32_t	cp;
					size_t		len = LlmUtf8DecodeLoose(v->u.s.p + off, v->u.s.len - off, &cp);

					chars[i] = ChatStrRef(r, v->u.s.p + off, len);
					off += len;
				}
				*items = chars;
				*n = count;
				return;
			}
		case CK_UNDEF:
			*items = NULL;
			*n = 0;
			return;
		default:
			ChatFail(r, LLM_ERR_ARGUMENT, "'%s' object is not iterable", ChatKindName(v));
	}
}

/* obj.name: dict members, namespace attributes, loop variables */
ChatValue *
ChatGetAttr(ChatRender *r, ChatValue *obj, const char *name, size_t len)
{
	ChatValue  *v;

	switch (obj->kind)
	{
		case CK_UNDEF:
			FailUndefined(r, obj);
		case CK_DICT:
		case CK_NS:
			v = ChatDictGetStr(obj->u.dict, name, len);
			return v ? v : ChatUndef(r, name);
		case CK_LOOP:
			{
				ChatLoop   *l = obj->u.loop;
				size_t		i = l->index0;

#define IS(s) (len == strlen(s) && memcmp(name, s, len) == 0)
				if (IS("index"))
					return ChatInt(r, (int64_t) i + 1);
				if (IS("index0"))
					return ChatInt(r, (int64_t) i);
				if (IS("revindex"))
					return ChatInt(r, (int64_t) (l->n - i));
				if (IS("revindex0"))
					return ChatInt(r, (int64_t) (l->n - i - 1));
				if (IS("first"))
					return ChatBool(r, i == 0);
				if (IS("last"))
					return ChatBool(r, i + 1 == l->n);
				if (IS("length"))
					return ChatInt(r, (int64_t) l->n);
				if (IS("depth"))
					return ChatInt(r, l->depth0 + 1);
				if (IS("depth0"))
					return ChatInt(r, l->depth0);
				if (IS("previtem"))
					return i > 0 ? l->items[i - 1] : ChatUndef(r, "previtem");
				if (IS("nextitem"))
					return i + 1 < l->n ? l->items[i + 1] : ChatUndef(r, "nextitem");
#undef IS
				return ChatUndef(r, name);
			}
		default:
			return ChatUndef(r, name);
	}
}

/* an integer index from v, false if v is not an integer */
static bool
IndexOf(const ChatValue *v, int64_t *out)
{
	if (v->kind == CK_INT)
		*out = v->u.i;
	else if (v->kind == CK_BOOL)
		*out = v->u.b;
	else
		return false;
	return true;
}

/* obj[key] */
ChatValue *
ChatGetItem(ChatRender *r, ChatValue *obj, ChatValue *key)
{
	int64_t		idx;

	switch (obj->kind)
	{
		case CK_UNDEF:
			FailUndefined(r, obj);
		case CK_DICT:
		case CK_NS:
			{
				ChatValue  *v = ChatDictGet(obj->u.dict, key);

				return v ? v : ChatUndef(r, key->kind == CK_STR ? "item" : NULL);
			}
		case CK_LOOP:
			if (key->kind == CK_STR)
				return ChatGetAttr(r, obj, key->u.s.p, key->u.s.len);
			return r->v_undef;
		case CK_LIST:
			if (!IndexOf(key, &idx) || obj->u.list.lazy)
				return r->v_undef;
			if (idx < 0)
				idx += (int64_t) obj->u.list.n;
			if (idx < 0 || idx >= (int64_t) obj->u.list.n)
				return r->v_undef;
			return obj->u.list.items[idx];
		case CK_STR:
			{
				size_t		count;
				size_t		off;
				uint32_t	cp;

				if (!IndexOf(key, &idx))
					return r->v_undef;
				count = LlmUtf8Count(obj->u.s.p, obj->u.s.len);
				if (idx < 0)
					idx += (int64_t) count;
				if (idx < 0 || idx >= (int64_t) count)
					return r->v_undef;
				off = LlmUtf8Offset(obj->u.s.p, obj->u.s.len, (size_t) idx);
				return ChatStrRef(r, obj->u.s.p + off,
								  LlmUtf8DecodeLoose(obj->u.s.p + off, obj->u.s.len - off, &cp));
			}
		default:
			return r->v_undef;
	}
}

/* clamp one slice bound as Python's PySlice_AdjustIndices does */
static int64_t
SliceBound(ChatRender *r, ChatValue *v, int64_t dflt, int64_t len, int64_t step)
{
	int64_t		i;

	if (v == NULL || v->kind == CK_NONE)
		return dflt;
	if (!IndexOf(v, &i))
		ChatFail(r, LLM_ERR_ARGUMENT, "slice indices must be integers or None");
	if (i < 0)
	{
		i += len;
		if (i < 0)
			i = step < 0 ? -1 : 0;
	}
	else if (i >= len)
		i = step < 0 ? len - 1 : len;
	return i;
}

/* obj[start:stop:step] for lists and strings (Python semantics) */
ChatValue *
ChatSlice(ChatRender *r, ChatValue *obj, ChatValue *startv, ChatValue *stopv,
		  ChatValue *stepv)
{
	int64_t		len;
	int64_t		step = 1;
	int64_t		start;
	int64_t		stop;
	int64_t		count;
	size_t	   *offs = NULL;
	bool		ascii = false;

	if (obj->kind == CK_UNDEF)
		FailUndefined(r, obj);
	if (obj->kind == CK_LIST && !obj->u.list.lazy)
		len = (int64_t) obj->u.list.n;
	else if (obj->kind == CK_STR)
	{
		len = (int64_t) LlmUtf8Count(obj->u.s.p, obj->u.s.len);
		ascii = (size_t) len == obj->u.s.len;
	}
	else
		ChatFail(r, LLM_ERR_ARGUMENT, "'%s' object is not subscriptable",
				 obj->kind == CK_LIST ? "generator" : ChatKindName(obj));
	if (stepv != NULL && stepv->kind != CK_NONE)
	{
		if (!IndexOf(stepv, &step))
			ChatFail(r, LLM_ERR_ARGUMENT, "slice indices must be integers or None");
		if (step == 0)
			ChatFail(r, LLM_ERR_ARGUMENT, "slice step cannot be zero");
		if (step == INT64_MIN)
			step = -INT64_MAX;
	}
	start = SliceBound(r, startv, step < 0 ? len - 1 : 0, len, step);
	stop = SliceBound(r, stopv, step < 0 ? -1 : len, len, step);
	if (step > 0)
		count = stop > start ? (stop - start - 1) / step + 1 : 0;
	else
		count = stop < start ? (start - stop - 1) / (-step) + 1 : 0;
	ChatStep(r, count);

	if (obj->kind == CK_LIST)
	{
		ChatValue  *out = ChatList(r, (size_t) count);

		for (int64_t i = 0; i < count; i++)
			out->u.list.items[i] = obj->u.list.items[start + i * step];
		return out;
	}
	if (ascii && step == 1)
		return ChatStrRef(r, obj->u.s.p + start, (size_t) count);
	if (!ascii)
	{
		size_t		off = 0;
		uint32_t	cp;

		/* byte offset of every code point, plus the end */
		offs = ChatAlloc(r, (size_t) (len + 1) * sizeof(size_t));
		for (int64_t i = 0; i < len; i++)
		{
			offs[i] = off;
			off += LlmUtf8DecodeLoose(obj->u.s.p + off, obj->u.s.len - off, &cp);
		}
		offs[len] = off;
		if (step == 1)
			return ChatStrRef(r, obj->u.s.p + offs[start], offs[start + count] - offs[start]);
	}
	{
		ChatBuf		buf = {0};

		for (int64_t i = 0; i < count; i++)
		{
			int64_t		k = start + i * step;

			if (ascii)
				ChatBufAppend(r, &buf, obj->u.s.p + k, 1);
			else
				ChatBufAppend(r, &buf, obj->u.s.p + offs[k], offs[k + 1] - offs[k]);
		}
		return ChatBufToStr(r, &buf);
	}
}

/* ---- operators ---- */

/* find needle in hay (byte strings); needle non-empty */
static bool
FindBytes(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen > hlen)
		return false;
	for (size_t i = 0; i + nlen <= hlen; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
			return true;
	return false;
}

/* does haystack contain needle (Python "in")? */
static bool
Contains(ChatRender *r, ChatValue *needle, ChatValue *hay)
{
	switch (hay->kind)
	{
		case CK_STR:
			if (needle->kind == CK_UNDEF)
				FailUndefined(r, needle);
			if (needle->kind != CK_STR)
				ChatFail(r, LLM_ERR_ARGUMENT, "'in <string>' requires string as left operand, not %s",
						 ChatKindName(needle));
			ChatStep(r, (int64_t) (hay->u.s.len * (needle->u.s.len > 64 ? 64 : needle->u.s.len + 1)) / 64);
			if (needle->u.s.len == 0)
				return true;
			return FindBytes(hay->u.s.p, hay->u.s.len, needle->u.s.p, needle->u.s.len);
		case CK_LIST:
			for (size_t i = 0; i < hay->u.list.n; i++)
			{
				ChatStep(r, 1);
				if (ChatEqual(r, hay->u.list.items[i], needle, 0))
					return true;
			}
			return false;
		case CK_DICT:
		case CK_NS:
			ChatStep(r, (int64_t) hay->u.dict->n / 8);
			return ChatDictGet(hay->u.dict, needle) != NULL;
		case CK_UNDEF:
			return false;
		default:
			ChatFail(r, LLM_ERR_ARGUMENT, "argument of type '%s' is not iterable",
					 ChatKindName(hay));
	}
}

/* integer arithmetic with overflow detection */
static ChatValue *
IntOp(ChatRender *r, int op, int64_t a, int64_t b)
{
	int64_t		res = 0;
	bool		overflow = false;

	switch (op)
	{
		case '+':
			overflow = __builtin_add_overflow(a, b, &res);
			break;
		case '-':
			overflow = __builtin_sub_overflow(a, b, &res);
			break;
		case '*':
			overflow = __builtin_mul_overflow(a, b, &res);
			break;
		case OP_FLOORDIV:
		case '%':
			if (b == 0)
				ChatFail(r, LLM_ERR_ARGUMENT, "integer division or modulo by zero");
			if (a == INT64_MIN && b == -1)
			{
				overflow = op == OP_FLOORDIV;
				res = 0;
				break;
			}
			{
				int64_t		q = a / b;
				int64_t		m = a % b;

				if (m != 0 && ((m < 0) != (b < 0)))
				{
					q--;
					m += b;
				}
				res = op == '%' ? m : q;
			}
			break;
		case OP_POW:
			if (b < 0)
				return ChatFloat(r, pow((double) a, (double) b));
			res = 1;
			while (b-- > 0 && !overflow)
			{
				overflow = __builtin_mul_overflow(res, a, &res);
				if (res == 0 || res == 1)
					break;
				if (res == -1 && a == -1)
				{
					res = (b % 2 == 0) ? -1 : 1;
					break;
				}
			}
			break;
	}
	if (overflow)
		ChatFail(r, LLM_ERR_ARGUMENT, "integer overflow");
	return ChatInt(r, res);
}

/* repeat a string or list n times */
static ChatValue *
Repeat(ChatRender *r, ChatValue *v, int64_t times)
{
	if (v->kind == CK_LIST && v->u.list.lazy)
		ChatFail(r, LLM_ERR_ARGUMENT, "unsupported operand type(s) for *: 'generator' and 'int'");
	if (times < 0)
		times = 0;
	if (v->kind == CK_STR)
	{
		ChatBuf		buf = {0};

		if (v->u.s.len > 0 && times > (int64_t) (CHAT_MAX_OUTPUT / v->u.s.len))
			ChatFail(r, LLM_ERR_ARGUMENT, "string longer than %d bytes", CHAT_MAX_OUTPUT);
		for (int64_t i = 0; i < times && v->u.s.len > 0; i++)
			ChatBufAppend(r, &buf, v->u.s.p, v->u.s.len);
		return ChatBufToStr(r, &buf);
	}
	else
	{
		size_t		n = v->u.list.n;
		ChatValue  *out;

		if (n > 0 && times > (int64_t) (CHAT_MAX_OUTPUT / 8 / n))
			ChatFail(r, LLM_ERR_ARGUMENT, "list too long");
		out = ChatList(r, n * (size_t) times);
		ChatStep(r, (int64_t) (n * (size_t) times));
		for (int64_t i = 0; i < times; i++)
			if (n)
				memcpy(out->u.list.items + i * n, v->u.list.items, n * sizeof(ChatValue *));
		return out;
	}
}

/* a binary operator: + - * / // % ** ~ */
static ChatValue *
BinOp(ChatRender *r, int op, ChatValue *a, ChatValue *b)
{
	if (op == '~')
	{
		ChatBuf		buf = {0};

		ChatAppendStr(r, &buf, a, 0);
		ChatAppendStr(r, &buf, b, 0);
		return ChatBufToStr(r, &buf);
	}
	if (a->kind == CK_UNDEF)
		FailUndefined(r, a);
	if (b->kind == CK_UNDEF)
		FailUndefined(r, b);
	if (ChatIsNumber(a) && ChatIsNumber(b))
	{
		if (a->kind != CK_FLOAT && b->kind != CK_FLOAT && op != '/')
			return IntOp(r, op, a->kind == CK_INT ? a->u.i : a->u.b,
						 b->kind == CK_INT ? b->u.i : b->u.b);
		else
		{
			double		x = ChatToDouble(a);
			double		y = ChatToDouble(b);

			switch (op)
			{
				case '+':
					return ChatFloat(r, x + y);
				case '-':
					return ChatFloat(r, x - y);
				case '*':
					return ChatFloat(r, x * y);
				case '/':
					if (y == 0)
						ChatFail(r, LLM_ERR_ARGUMENT, "division by zero");
					return ChatFloat(r, x / y);
				case OP_FLOORDIV:
					if (y == 0)
						ChatFail(r, LLM_ERR_ARGUMENT, "float floor division by zero");
					return ChatFloat(r, floor(x / y));
				case '%':
					if (y == 0)
						ChatFail(r, LLM_ERR_ARGUMENT, "float modulo");
					{
						double		m = fmod(x, y);

						if (m != 0 && ((m < 0) != (y < 0)))
							m += y;
						return ChatFloat(r, m);
					}
				case OP_POW:
					return ChatFloat(r, pow(x, y));
			}
		}
	}
	if (op == '+' && a->kind == CK_STR && b->kind == CK_STR)
	{
		ChatBuf		buf = {0};

		ChatBufAppend(r, &buf, a->u.s.p, a->u.s.len);
		ChatBufAppend(r, &buf, b->u.s.p, b->u.s.len);
		return ChatBufToStr(r, &buf);
	}
	if (op == '+' && a->kind == CK_LIST && b->kind == CK_LIST)
	{
		ChatValue  *out = ChatList(r, a->u.list.n + b->u.list.n);

		ChatStep(r, (int64_t) out->u.list.n);
		if (a->u.list.n)
			memcpy(out->u.list.items, a->u.list.items, a->u.list.n * sizeof(ChatValue *));
		if (b->u.list.n)
			memcpy(out->u.list.items + a->u.list.n, b->u.list.items,
				   b->u.list.n * sizeof(ChatValue *));
		return out;
	}
	if (op == '*' && (a->kind == CK_STR || a->kind == CK_LIST) &&
		(b->kind == CK_INT || b->kind == CK_BOOL))
		return Repeat(r, a, b->kind == CK_INT ? b->u.i : b->u.b);
	if (op == '*' && (b->kind == CK_STR || b->kind == CK_LIST) &&
		(a->kind == CK_INT || a->kind == CK_BOOL))
		return Repeat(r, b, a->kind == CK_INT ? a->u.i : a->u.b);
	{
		static const char *const names[] = {"+", "-", "*", "/", "//", "%", "**"};
		const char *name = op == '+' ? names[0] : op == '-' ? names[1] : op == '*' ? names[2] :
			op == '/' ? names[3] : op == OP_FLOORDIV ? names[4] : op == '%' ? names[5] : names[6];

		ChatFail(r, LLM_ERR_ARGUMENT, "unsupported operand type(s) for %s: '%s' and '%s'",
				 name, ChatKindName(a), ChatKindName(b));
	}
}

/* a comparison chain a op1 b op2 c ... */
static ChatValue *
Compare(ChatRender *r, const ChatNode *n, ChatScope *s)
{
	ChatValue  *left = Eval(r, n->a, s);

	for (int i = 0; i < n->nargs; i++)
	{
		ChatValue  *right = Eval(r, n->args[i], s);
		bool		ok;

		At(r, n);
		switch (n->ops[i])
		{
			case OP_EQ:
				ok = ChatEqual(r, left, right, 0);
				break;
			case OP_NE:
				ok = !ChatEqual(r, left, right, 0);
				break;
			case '<':
				ok = ChatCompare(r, left, right, 0) < 0;
				break;
			case '>':
				ok = ChatCompare(r, left, right, 0) > 0;
				break;
			case OP_LE:
				ok = ChatCompare(r, left, right, 0) <= 0;
				break;
			case OP_GE:
				ok = ChatCompare(r, left, right, 0) >= 0;
				break;
			case OP_IN:
				ok = Contains(r, left, right);
				break;
			case OP_NOTIN:
				ok = !Contains(r, left, right);
				break;
			default:
				ok = false;
				break;
		}
		if (!ok)
			return r->v_false;
		left = right;
	}
	return r->v_true;
}

/* evaluate a node list into an array of values */
static ChatValue **
EvalList(ChatRender *r, ChatNode **nodes, int n, ChatScope *s)
{
	ChatValue **vals = ChatAlloc(r, (n ? n : 1) * sizeof(ChatValue *));

	for (int i = 0; i < n; i++)
		vals[i] = Eval(r, nodes[i], s);
	return vals;
}

/* a call: a method (obj.name(...)), a macro or a global function */
static ChatValue *
Call(ChatRender *r, const ChatNode *n, ChatScope *s)
{
	ChatValue **args;
	ChatValue **kwvals;
	ChatValue  *callee;

	if (n->a->kind == E_ATTR)
	{
		ChatValue  *obj = Eval(r, n->a->a, s);
		ChatValue  *member = NULL;

		if (obj->kind == CK_UNDEF)
		{
			At(r, n);
			FailUndefined(r, obj);
		}
		if (obj->kind == CK_DICT || obj->kind == CK_NS)
			member = ChatDictGetStr(obj->u.dict, n->a->str, n->a->len);
		args = EvalList(r, n->args, n->nargs, s);
		kwvals = EvalList(r, n->kwvals, n->nkw, s);
		At(r, n);
		if (member != NULL && (member->kind == CK_MACRO || member->kind == CK_FUNC))
			callee = member;
		else
			return ChatCallMethod(r, obj, n->a->str, args, n->nargs, n->kwnames, kwvals,
								  n->nkw);
	}
	else
	{
		callee = Eval(r, n->a, s);
		args = EvalList(r, n->args, n->nargs, s);
		kwvals = EvalList(r, n->kwvals, n->nkw, s);
		At(r, n);
	}
	if (callee->kind == CK_MACRO)
		return ChatCallMacro(r, callee, args, n->nargs, n->kwnames, kwvals, n->nkw);
	if (callee->kind == CK_FUNC)
		return ChatCallFunc(r, callee->u.func, args, n->nargs, n->kwnames, kwvals, n->nkw);
	if (callee->kind == CK_UNDEF)
		FailUndefined(r, callee);
	ChatFail(r, LLM_ERR_ARGUMENT, "'%s' object is not callable", ChatKindName(callee));
}

/* evaluate an expression */
static ChatValue *
Eval(ChatRender *r, const ChatNode *n, ChatScope *s)
{
	ChatStep(r, 1);
	At(r, n);
	switch (n->kind)
	{
		case E_CONST:
			return n->cval;
		case E_NAME:
			return Lookup(r, s, n->str);
		case E_LIST:
			{
				ChatValue  *v = ChatList(r, (size_t) n->nargs);

				v->u.list.tuple = n->op == 1;
				for (int i = 0; i < n->nargs; i++)
					v->u.list.items[i] = Eval(r, n->args[i], s);
				return v;
			}
		case E_DICT:
			{
				ChatValue  *v = ChatNewDict(r, CK_DICT);

				for (int i = 0; i < n->nargs; i++)
				{
					ChatValue  *key = Eval(r, n->args[i], s);
					ChatValue  *val = Eval(r, n->kwvals[i], s);

					At(r, n);
					if (key->kind == CK_LIST || key->kind == CK_DICT || key->kind == CK_UNDEF)
						ChatFail(r, LLM_ERR_ARGUMENT, "unhashable type: '%s'", ChatKindName(key));
					ChatDictSet(r, v->u.dict, key, val);
				}
				return v;
			}
		case E_ATTR:
			{
				ChatValue  *obj = Eval(r, n->a, s);

				At(r, n);
				return ChatGetAttr(r, obj, n->str, n->len);
			}
		case E_ITEM:
			{
				ChatValue  *obj = Eval(r, n->a, s);
				ChatValue  *key = Eval(r, n->b, s);

				At(r, n);
				return ChatGetItem(r, obj, key);
			}
		case E_SLICE:
			{
				ChatValue  *obj = Eval(r, n->a, s);
				ChatValue  *start = n->b ? Eval(r, n->b, s) : NULL;
				ChatValue  *stop = n->c ? Eval(r, n->c, s) : NULL;
				ChatValue  *step = n->d ? Eval(r, n->d, s) : NULL;

				At(r, n);
				return ChatSlice(r, obj, start, stop, step);
			}
		case E_CALL:
			return Call(r, n, s);
		case E_FILTER:
			{
				ChatValue  *v;
				ChatValue **args;
				ChatValue **kwvals;

				if (n->a)
					v = Eval(r, n->a, s);
				else
					v = r->v_empty;
				args = EvalList(r, n->args, n->nargs, s);
				kwvals = EvalList(r, n->kwvals, n->nkw, s);
				At(r, n);
				return ChatApplyFilter(r, n->fid, v, args, n->nargs, n->kwnames, kwvals,
									   n->nkw);
			}
		case E_TEST:
			{
				ChatValue  *v = Eval(r, n->a, s);
				ChatValue **args = EvalList(r, n->args, n->nargs, s);
				bool		res;

				At(r, n);
				res = ChatApplyTest(r, n->fid, v, args, n->nargs);
				return ChatBool(r, n->op ? !res : res);
			}
		case E_BINOP:
			{
				ChatValue  *a = Eval(r, n->a, s);
				ChatValue  *b = Eval(r, n->b, s);

				At(r, n);
				return BinOp(r, n->op, a, b);
			}
		case E_UNARY:
			{
				ChatValue  *a = Eval(r, n->a, s);

				At(r, n);
				if (n->op == OP_NOT)
					return ChatBool(r, !ChatTruthy(a));
				if (a->kind == CK_UNDEF)
					FailUndefined(r, a);
				if (!ChatIsNumber(a))
					ChatFail(r, LLM_ERR_ARGUMENT, "bad operand type for unary %c: '%s'",
							 n->op == OP_NEG ? '-' : '+', ChatKindName(a));
				if (n->op == OP_POS)
					return a->kind == CK_BOOL ? ChatInt(r, a->u.b) : a;
				if (a->kind == CK_FLOAT)
					return ChatFloat(r, -a->u.f);
				return IntOp(r, '-', 0, a->kind == CK_INT ? a->u.i : a->u.b);
			}
		case E_AND:
			{
				ChatValue  *a = Eval(r, n->a, s);

				return ChatTruthy(a) ? Eval(r, n->b, s) : a;
			}
		case E_OR:
			{
				ChatValue  *a = Eval(r, n->a, s);

				return ChatTruthy(a) ? a : Eval(r, n->b, s);
			}
		case E_COMPARE:
			return Compare(r, n, s);
		case E_COND:
			if (ChatTruthy(Eval(r, n->b, s)))
				return Eval(r, n->a, s);
			return n->c ? Eval(r, n->c, s) : r->v_undef;
		default:
			ChatFail(r, LLM_ERR_ARGUMENT, "statement used as an expression");
	}
}

/* ---- statements ---- */

/* bind for-loop or set targets to a value, unpacking tuples */
static void
Bind(ChatRender *r, const ChatNode *n, ChatScope *s, ChatValue *v)
{
	if (n->nnames == 1)
	{
		ChatScopeSet(r, s, n->names[0], v);
		return;
	}
	if (v->kind != CK_LIST)
		ChatFail(r, LLM_ERR_ARGUMENT, "cannot unpack non-sequence %s", ChatKindName(v));
	if (v->u.list.n != (size_t) n->nnames)
		ChatFail(r, LLM_ERR_ARGUMENT, "%s values to unpack (expected %d, got %zu)",
				 v->u.list.n > (size_t) n->nnames ? "too many" : "not enough",
				 n->nnames, v->u.list.n);
	for (int i = 0; i < n->nnames; i++)
		ChatScopeSet(r, s, n->names[i], v->u.list.items[i]);
}

/* run statements with output captured into a string value */
static ChatValue *
Capture(ChatRender *r, ChatNode **body, int nbody, ChatScope *s)
{
	ChatBuf		buf = {0};
	ChatBuf    *saved = r->out;

	r->out = &buf;
	ExecBody(r, body, nbody, s);
	r->out = saved;
	return ChatBufToStr(r, &buf);
}

/* apply a filter chain whose innermost operand is the hole value */
static ChatValue *
ApplyChain(ChatRender *r, const ChatNode *f, ChatValue *input, ChatScope *s)
{
	ChatValue  *v = f->a ? ApplyChain(r, f->a, input, s) : input;
	ChatValue **args = EvalList(r, f->args, f->nargs, s);
	ChatValue **kwvals = EvalList(r, f->kwvals, f->nkw, s);

	At(r, f);
	return ChatApplyFilter(r, f->fid, v, args, f->nargs, f->kwnames, kwvals, f->nkw);
}

/* a scope for the next loop iteration: the last one emptied, if no macro kept it */
static ChatScope *
IterScope(ChatRender *r, ChatScope *prev, ChatScope *parent)
{
	if (prev == NULL || prev->captured)
		return ChatNewScope(r, parent);
	prev->n = 0;
	return prev;
}

/* {% for %} */
static Flow
ExecFor(ChatRender *r, const ChatNode *n, ChatScope *s)
{
	ChatValue  *iter = Eval(r, n->a, s);
	ChatValue **items;
	size_t		count;
	ChatLoop   *loop;
	ChatValue  *loopv;
	ChatScope  *is = NULL;

	At(r, n);
	ChatIterItems(r, iter, &items, &count);
	if (iter->kind == CK_DICT)
	{
		/* the loop must not see members set while it runs */
		ChatValue **copy = ChatAlloc(r, (count ? count : 1) * sizeof(ChatValue *));

		if (count)
			memcpy(copy, items, count * sizeof(ChatValue *));
		items = copy;
	}
	if (n->b != NULL)
	{
		/* "for x in xs if cond": loop over the items that pass */
		ChatValue **kept = ChatAlloc(r, (count ? count : 1) * sizeof(ChatValue *));
		size_t		nkept = 0;
		ChatScope  *fs = NULL;

		for (size_t i = 0; i < count; i++)
		{
			fs = IterScope(r, fs, s);
			ChatStep(r, 1);
			Bind(r, n, fs, items[i]);
			if (ChatTruthy(Eval(r, n->b, fs)))
				kept[nkept++] = items[i];
		}
		items = kept;
		count = nkept;
	}
	if (count == 0)
		return ExecBody(r, n->orelse, n->norelse, s);

	loop = ChatAlloc(r, sizeof(ChatLoop));
	loop->items = items;
	loop->n = count;
	loopv = ChatNewValue(r, CK_LOOP);
	loopv->u.loop = loop;
	for (size_t i = 0; i < count; i++)
	{
		Flow		flow;

		is = IterScope(r, is, s);
		ChatStep(r, 1);
		loop->index0 = i;
		At(r, n);
		Bind(r, n, is, items[i]);
		ChatScopeSet(r, is, "loop", loopv);
		flow = ExecBody(r, n->body, n->nbody, is);
		if (flow == FLOW_BREAK)
			break;
	}
	return FLOW_NEXT;
}

/* execute one statement */
static Flow
Exec(ChatRender *r, const ChatNode *n, ChatScope *s)
{
	ChatStep(r, 1);
	At(r, n);
	switch (n->kind)
	{
		case N_TEXT:
			ChatBufAppend(r, r->out, n->str, n->len);
			return FLOW_NEXT;
		case N_OUTPUT:
			ChatAppendStr(r, r->out, Eval(r, n->a, s), 0);
			return FLOW_NEXT;
		case N_IF:
			if (ChatTruthy(Eval(r, n->a, s)))
				return ExecBody(r, n->body, n->nbody, s);
			return ExecBody(r, n->orelse, n->norelse, s);
		case N_FOR:
			return ExecFor(r, n, s);
		case N_SET:
			Bind(r, n, s, Eval(r, n->a, s));
			return FLOW_NEXT;
		case N_SETATTR:
			{
				ChatValue  *target = Lookup(r, s, n->names[0]);
				ChatValue  *v = Eval(r, n->a, s);

				At(r, n);
				if (target->kind != CK_NS)
					ChatFail(r, LLM_ERR_ARGUMENT, "cannot assign attribute on non-namespace object");
				ChatDictSet(r, target->u.dict, ChatStrRef(r, n->str, n->len), v);
				return FLOW_NEXT;
			}
		case N_SETBLOCK:
			{
				ChatValue  *v = Capture(r, n->body, n->nbody, s);

				if (n->a)
					v = ApplyChain(r, n->a, v, s);
				ChatScopeSet(r, s, n->names[0], v);
				return FLOW_NEXT;
			}
		case N_MACRO:
			{
				ChatValue  *v = ChatNewValue(r, CK_MACRO);

				v->u.macro = ChatAlloc(r, sizeof(ChatMacro));
				v->u.macro->def = n;
				v->u.macro->scope = s;
				s->captured = true;
				ChatScopeSet(r, s, n->str, v);
				return FLOW_NEXT;
			}
		case N_BREAK:
			return FLOW_BREAK;
		case N_CONTINUE:
			return FLOW_CONTINUE;
		case N_BLOCK:
			if (n->nnames > 0)
			{
				ChatScope  *ws = ChatNewScope(r, s);

				for (int i = 0; i < n->nnames; i++)
					ChatScopeSet(r, ws, n->names[i], Eval(r, n->args[i], s));
				return ExecBody(r, n->body, n->nbody, ws);
			}
			return ExecBody(r, n->body, n->nbody, s);
		case N_FILTERBLOCK:
			{
				ChatValue  *v = Capture(r, n->body, n->nbody, s);

				v = ApplyChain(r, n->a, v, s);
				ChatAppendStr(r, r->out, v, 0);
				return FLOW_NEXT;
			}
		default:
			ChatAppendStr(r, r->out, Eval(r, n, s), 0);
			return FLOW_NEXT;
	}
}

static Flow
ExecBody(ChatRender *r, ChatNode **body, int n, ChatScope *scope)
{
	for (int i = 0; i < n; i++)
	{
		Flow		flow = Exec(r, body[i], scope);

		if (flow != FLOW_NEXT)
			return flow;
	}
	return FLOW_NEXT;
}

/* render a statement list into r->out */
void
ChatExecBody(ChatRender *r, ChatNode **body, int n, ChatScope *scope)
{
	ExecBody(r, body, n, scope);
}

/* call a macro: bind arguments, render its body, return the text */
ChatValue *
ChatCallMacro(ChatRender *r, ChatValue *macro, ChatValue **args, int nargs,
			  const char **kwnames, ChatValue **kwvals, int nkw)
{
	const ChatNode *def = macro->u.macro->def;
	ChatScope  *s = ChatNewScope(r, macro->u.macro->scope);
	ChatValue  *out;

	if (r->call_depth >= CHAT_MAX_CALL_DEPTH)
		ChatFail(r, LLM_ERR_ARGUMENT, "macro calls nested more than %d deep",
				 CHAT_MAX_CALL_DEPTH);
	if (nargs > def->nnames)
		ChatFail(r, LLM_ERR_ARGUMENT, "macro '%s' takes not more than %d argument(s)",
				 def->str, def->nnames);
	for (int k = 0; k < nkw; k++)
	{
		bool		found = false;

		for (int i = 0; i < def->nnames; i++)
			if (strcmp(def->names[i], kwnames[k]) == 0)
				found = true;
		if (!found)
			ChatFail(r, LLM_ERR_ARGUMENT, "macro '%s' takes no keyword argument '%s'",
					 def->str, kwnames[k]);
	}
	for (int i = 0; i < def->nnames; i++)
	{
		ChatValue  *v = NULL;

		if (i < nargs)
			v = args[i];
		for (int k = 0; k < nkw && v == NULL; k++)
			if (strcmp(def->names[i], kwnames[k]) == 0)
				v = kwvals[k];
		if (v == NULL && def->args[i] != NULL)
			v = Eval(r, def->args[i], s);
		if (v == NULL)
			v = ChatUndef(r, def->names[i]);
		ChatScopeSet(r, s, def->names[i], v);
	}
	r->call_depth++;
	out = Capture(r, def->body, def->nbody, s);
	r->call_depth--;
	return out;
}
