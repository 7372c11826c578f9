/*-------------------------------------------------------------------------
 *
 * chatparse.c
 *	  Parser of the chat-template interpreter: tokens -> syntax tree.
 *
 * A recursive-descent parser with Jinja's grammar and precedence:
 * conditional expressions, or, and, not, comparisons (chained, in, not
 * in), + -, ~, * / // %, **, unary - +, then postfix access (.name,
 * [index], [a:b:c], calls) and filters (| name) and tests (is [not] name),
 * which bind tighter than any binary operator.  Filter and test names are
 * resolved here, so an unknown one is a syntax error with its position,
 * as in Jinja.  Every node records its depth; a tree deeper than
 * CHAT_MAX_TREE_DEPTH is refused, which bounds the evaluator's recursion.
 *
 *-------------------------------------------------------------------------
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>

#include "llm/chatinternal.h"

typedef struct Parser
{
	const ChatToken *toks;
	size_t		ntoks;
	size_t		pos;
	ChatArena  *arena;
	LlmError   *err;
	jmp_buf		jump;
	int			nest;			/* recursion depth of the parser itself */
	int			loops;			/* enclosing for loops, for break/continue */
} Parser;

/* growable node list used while parsing */
typedef struct NodeList
{
	ChatNode  **items;
	int			n;
	int			cap;
} NodeList;

static ChatNode *ParseExpression(Parser *p, bool with_cond);
static ChatNode *ParseTuple(Parser *p, bool with_cond);
static ChatNode *ParseUnary(Parser *p, bool with_filter);
static ChatNode *ParsePrimary(Parser *p);
static ChatNode *ParsePostfix(Parser *p, ChatNode *node);
static void ParseBody(Parser *p, const char *const *ends, NodeList *out);

/* fail with a syntax error at token t */
static void
__attribute__((noreturn, format(printf, 4, 5)))
ParseFail(Parser *p, const ChatToken *t, int code, const char *fmt,...)
{
	char		msg[400];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	LlmSetError(p->err, code, "chat template syntax error at line %d, column %d: %s",
				t->line, t->col, msg);
	longjmp(p->jump, 1);
}

/* arena allocation that fails the parse when out of memory */
static void *
PAlloc(Parser *p, size_t size)
{
	void	   *m = ChatArenaAlloc(p->arena, size);

	if (m == NULL)
	{
		LlmSetError(p->err, LLM_ERR_NOMEM, "chat template: out of memory");
		longjmp(p->jump, 1);
	}
	memset(m, 0, size);
	return m;
}

static const ChatToken *
Cur(Parser *p)
{
	return &p->toks[p->pos];
}

static const ChatToken *
Peek(Parser *p, size_t ahead)
{
	size_t		i = p->pos + ahead;

	return &p->toks[i < p->ntoks ? i : p->ntoks - 1];
}

/* consume the current token (never past EOF) */
static const ChatToken *
Next(Parser *p)
{
	const ChatToken *t = Cur(p);

	if (t->kind != TK_EOF)
		p->pos++;
	return t;
}

/* is token t the name s? */
static bool
IsName(const ChatToken *t, const char *s)
{
	return t->kind == TK_NAME && t->len == strlen(s) && memcmp(t->str, s, t->len) == 0;
}

static bool
IsOp(const ChatToken *t, int op)
{
	return t->kind == TK_OP && t->op == op;
}

/* describe a token for error messages */
static const char *
Describe(const ChatToken *t, char *buf, size_t size)
{
	switch (t->kind)
	{
		case TK_TEXT:
			return "template text";
		case TK_VAR_BEGIN:
			return "'{{'";
		case TK_VAR_END:
			return "'}}'";
		case TK_BLOCK_BEGIN:
			return "'{%'";
		case TK_BLOCK_END:
			return "'%}'";
		case TK_NAME:
			snprintf(buf, size, "'%.*s'", (int) (t->len > 40 ? 40 : t->len), t->str);
			return buf;
		case TK_STRING:
			return "string";
		case TK_INT:
		case TK_FLOAT:
			return "number";
		case TK_OP:
			if (t->op < 256)
				snprintf(buf, size, "'%c'", t->op);
			else
				snprintf(buf, size, "operator");
			return buf;
		case TK_EOF:
			return "end of template";
	}
	return "token";
}

/* consume an operator or fail */
static void
ExpectOp(Parser *p, int op)
{
	char		buf[64];

	if (!IsOp(Cur(p), op))
		ParseFail(p, Cur(p), LLM_ERR_FORMAT, "expected '%c', got %s", op,
				  Describe(Cur(p), buf, sizeof(buf)));
	Next(p);
}

/* consume a token of a kind or fail */
static const ChatToken *
Expect(Parser *p, ChatTokKind kind, const char *what)
{
	char		buf[64];

	if (Cur(p)->kind != kind)
		ParseFail(p, Cur(p), LLM_ERR_FORMAT, "expected %s, got %s", what,
				  Describe(Cur(p), buf, sizeof(buf)));
	return Next(p);
}

/* NUL-terminated copy of a name token */
static const char *
NameOf(Parser *p, const ChatToken *t)
{
	char	   *s = PAlloc(p, t->len + 1);

	memcpy(s, t->str, t->len);
	return s;
}

static const char *
ExpectName(Parser *p)
{
	return NameOf(p, Expect(p, TK_NAME, "a name"));
}

/* a new node at token t */
static ChatNode *
NewNode(Parser *p, ChatNodeKind kind, const ChatToken *t)
{
	ChatNode   *n = PAlloc(p, sizeof(ChatNode));

	n->kind = kind;
	n->line = t->line;
	n->col = t->col;
	return n;
}

static int
DepthOf(ChatNode **list, int n)
{
	int			d = 0;

	for (int i = 0; i < n; i++)
		if (list[i] && list[i]->depth > d)
			d = list[i]->depth;
	return d;
}

/* set a finished node's depth from its children; refuse too deep trees */
static ChatNode *
Fin(Parser *p, ChatNode *n)
{
	int			d = 0;
	ChatNode   *kids[4] = {n->a, n->b, n->c, n->d};
	int			k;

	d = DepthOf(kids, 4);
	k = DepthOf(n->body, n->nbody);
	d = k > d ? k : d;
	k = DepthOf(n->orelse, n->norelse);
	d = k > d ? k : d;
	k = DepthOf(n->args, n->nargs);
	d = k > d ? k : d;
	k = DepthOf(n->kwvals, n->nkw);
	d = k > d ? k : d;
	n->depth = d + 1;
	if (n->depth > CHAT_MAX_TREE_DEPTH)
	{
		ChatToken	t = {0};

		t.line = n->line;
		t.col = n->col;
		ParseFail(p, &t, LLM_ERR_FORMAT, "template nested too deeply (more than %d levels)",
				  CHAT_MAX_TREE_DEPTH);
	}
	return n;
}

/* bound the parser's own recursion */
static void
Enter(Parser *p)
{
	if (++p->nest > CHAT_MAX_TREE_DEPTH)
		ParseFail(p, Cur(p), LLM_ERR_FORMAT, "template nested too deeply (more than %d levels)",
				  CHAT_MAX_TREE_DEPTH);
}

static void
Leave(Parser *p)
{
	p->nest--;
}

static void
ListAdd(Parser *p, NodeList *l, ChatNode *n)
{
	if (l->n == l->cap)
	{
		int			ncap = l->cap ? l->cap * 2 : 4;
		ChatNode  **items = PAlloc(p, ncap * sizeof(ChatNode *));

		if (l->n)
			memcpy(items, l->items, l->n * sizeof(ChatNode *));
		l->items = items;
		l->cap = ncap;
	}
	l->items[l->n++] = n;
}

/* a list of names, grown like NodeList */
static void
NameAdd(Parser *p, const char ***names, int *n, const char *name)
{
	const char **nn = PAlloc(p, (*n + 1) * sizeof(char *));

	if (*n)
		memcpy(nn, *names, *n * sizeof(char *));
	nn[(*n)++] = name;
	*names = nn;
}

static ChatNode *
Const(Parser *p, const ChatToken *t, ChatKind kind)
{
	ChatNode   *n = NewNode(p, E_CONST, t);

	n->cval = PAlloc(p, sizeof(ChatValue));
	n->cval->kind = kind;
	return Fin(p, n);
}

/*
 * Arguments of a call: positional and name=value, up to ')'.  The opening
 * '(' has been consumed.
 */
static void
ParseCallArgs(Parser *p, ChatNode *call)
{
	NodeList	args = {0};
	NodeList	kwvals = {0};
	const char **kwnames = NULL;
	int			nkw = 0;

	while (!IsOp(Cur(p), ')'))
	{
		if (args.n + nkw > 0)
		{
			ExpectOp(p, ',');
			if (IsOp(Cur(p), ')'))
				break;
		}
		if (IsOp(Cur(p), '*'))
			ParseFail(p, Cur(p), LLM_ERR_UNSUPPORTED, "*args and **kwargs are not supported");
		if (Cur(p)->kind == TK_NAME && IsOp(Peek(p, 1), '='))
		{
			NameAdd(p, &kwnames, &nkw, NameOf(p, Next(p)));
			Next(p);
			ListAdd(p, &kwvals, ParseExpression(p, true));
			continue;
		}
		if (nkw > 0)
			ParseFail(p, Cur(p), LLM_ERR_FORMAT, "positional argument after keyword argument");
		ListAdd(p, &args, ParseExpression(p, true));
	}
	ExpectOp(p, ')');
	call->args = args.items;
	call->nargs = args.n;
	call->kwnames = kwnames;
	call->kwvals = kwvals.items;
	call->nkw = nkw;
}

/* a dotted name after | or is */
static const char *
DottedName(Parser *p, const ChatToken **at)
{
	const ChatToken *t = Expect(p, TK_NAME, "a name");
	char	   *s;

	*at = t;
	s = PAlloc(p, t->len + 1);
	memcpy(s, t->str, t->len);
	if (IsOp(Cur(p), '.'))
		ParseFail(p, Cur(p), LLM_ERR_UNSUPPORTED, "dotted filter or test names are not supported");
	return s;
}

/* "| name(args)" chain member; operand may be NULL (filter blocks) */
static ChatNode *
ParseFilter(Parser *p, ChatNode *operand)
{
	const ChatToken *at;
	const char *name = DottedName(p, &at);
	ChatNode   *n = NewNode(p, E_FILTER, at);

	n->fid = ChatFilterLookup(name);
	if (n->fid < 0)
		ParseFail(p, at, LLM_ERR_FORMAT, "no filter named '%s'", name);
	n->str = name;
	n->a = operand;
	if (IsOp(Cur(p), '('))
	{
		Next(p);
		ParseCallArgs(p, n);
	}
	return Fin(p, n);
}

/* "is [not] name [arg | (args)]" */
static ChatNode *
ParseTest(Parser *p, ChatNode *operand)
{
	const ChatToken *at;
	const char *name;
	ChatNode   *n;
	bool		negated = false;
	const ChatToken *c;

	Next(p);					/* is */
	if (IsName(Cur(p), "not"))
	{
		Next(p);
		negated = true;
	}
	name = DottedName(p, &at);
	n = NewNode(p, E_TEST, at);
	n->fid = ChatTestLookup(name);
	if (n->fid < 0)
		ParseFail(p, at, LLM_ERR_FORMAT, "no test named '%s'", name);
	n->str = name;
	n->a = operand;
	n->op = negated;
	c = Cur(p);
	if (IsOp(c, '('))
	{
		Next(p);
		ParseCallArgs(p, n);
		if (n->nkw > 0)
			ParseFail(p, at, LLM_ERR_UNSUPPORTED, "keyword arguments to tests are not supported");
	}
	else if ((c->kind == TK_NAME || c->kind == TK_STRING || c->kind == TK_INT ||
			  c->kind == TK_FLOAT || IsOp(c, '(') || IsOp(c, '[') || IsOp(c, '{')) &&
			 !IsName(c, "else") && !IsName(c, "or") && !IsName(c, "and"))
	{
		if (IsName(c, "is"))
			ParseFail(p, c, LLM_ERR_FORMAT, "you cannot chain multiple tests with is");
		n->args = PAlloc(p, sizeof(ChatNode *));
		n->args[0] = ParsePostfix(p, ParsePrimary(p));
		n->nargs = 1;
	}
	return Fin(p, n);
}

/* filters, tests and calls after a unary expression */
static ChatNode *
ParseFilterExpr(Parser *p, ChatNode *node)
{
	for (;;)
	{
		if (IsOp(Cur(p), '|'))
		{
			Next(p);
			node = ParseFilter(p, node);
		}
		else if (IsName(Cur(p), "is"))
			node = ParseTest(p, node);
		else if (IsOp(Cur(p), '('))
		{
			ChatNode   *call = NewNode(p, E_CALL, Cur(p));

			Next(p);
			call->a = node;
			ParseCallArgs(p, call);
			node = Fin(p, call);
		}
		else
			return node;
	}
}

/* the inside of [ ]: an index, a slice or a tuple */
static ChatNode *
ParseSubscript(Parser *p, ChatNode *obj, const ChatToken *at)
{
	ChatNode   *parts[3] = {NULL, NULL, NULL};
	int			nparts = 0;
	ChatNode   *n;

	/* [a], [a:b], [a:b:c], with any part empty */
	for (;;)
	{
		if (!IsOp(Cur(p), ':') && !IsOp(Cur(p), ']'))
			parts[nparts] = ParseExpression(p, true);
		if (IsOp(Cur(p), ':') && nparts < 2)
		{
			Next(p);
			nparts++;
			continue;
		}
		break;
	}
	if (nparts == 0 && IsOp(Cur(p), ','))
	{
		ChatNode   *tuple = NewNode(p, E_LIST, Cur(p));
		NodeList	items = {0};

		tuple->op = 1;
		ListAdd(p, &items, parts[0]);
		while (IsOp(Cur(p), ','))
		{
			Next(p);
			if (IsOp(Cur(p), ']'))
				break;
			ListAdd(p, &items, ParseExpression(p, true));
		}
		tuple->args = items.items;
		tuple->nargs = items.n;
		parts[0] = Fin(p, tuple);
	}
	ExpectOp(p, ']');
	if (nparts == 0)
	{
		if (parts[0] == NULL)
			ParseFail(p, at, LLM_ERR_FORMAT, "expected an index");
		n = NewNode(p, E_ITEM, at);
		n->a = obj;
		n->b = parts[0];
	}
	else
	{
		n = NewNode(p, E_SLICE, at);
		n->a = obj;
		n->b = parts[0];
		n->c = parts[1];
		n->d = parts[2];
	}
	return Fin(p, n);
}

/* .name, .0, [index], [a:b], (args) */
static ChatNode *
ParsePostfix(Parser *p, ChatNode *node)
{
	for (;;)
	{
		const ChatToken *t = Cur(p);

		if (IsOp(t, '.'))
		{
			const ChatToken *attr;
			ChatNode   *n;

			Next(p);
			attr = Cur(p);
			if (attr->kind == TK_INT)
			{
				n = NewNode(p, E_ITEM, t);
				n->a = node;
				n->b = Const(p, attr, CK_INT);
				n->b->cval->u.i = attr->ival;
				Next(p);
			}
			else
			{
				n = NewNode(p, E_ATTR, t);
				n->a = node;
				n->str = ExpectName(p);
				n->len = strlen(n->str);
			}
			node = Fin(p, n);
		}
		else if (IsOp(t, '['))
		{
			Next(p);
			node = ParseSubscript(p, node, t);
		}
		else if (IsOp(t, '('))
		{
			ChatNode   *call = NewNode(p, E_CALL, t);

			Next(p);
			call->a = node;
			ParseCallArgs(p, call);
			node = Fin(p, call);
		}
		else
			return node;
	}
}

/* literals, names, ( ), [ ], { } */
static ChatNode *
ParsePrimary(Parser *p)
{
	const ChatToken *t = Cur(p);
	ChatNode   *n;
	char		buf[64];

	Enter(p);
	if (t->kind == TK_NAME)
	{
		Next(p);
		if (IsName(t, "true") || IsName(t, "True") || IsName(t, "false") || IsName(t, "False"))
		{
			n = Const(p, t, CK_BOOL);
			n->cval->u.b = (t->str[0] == 't' || t->str[0] == 'T');
		}
		else if (IsName(t, "none") || IsName(t, "None"))
			n = Const(p, t, CK_NONE);
		else
		{
			n = NewNode(p, E_NAME, t);
			n->str = NameOf(p, t);
			n->len = t->len;
			n = Fin(p, n);
		}
	}
	else if (t->kind == TK_STRING)
	{
		size_t		len = 0;
		size_t		count = 0;
		char	   *s;

		/* adjacent string literals are concatenated */
		while (Peek(p, count)->kind == TK_STRING)
			len += Peek(p, count++)->len;
		s = PAlloc(p, len + 1);
		len = 0;
		while (count-- > 0)
		{
			const ChatToken *st = Next(p);

			memcpy(s + len, st->str, st->len);
			len += st->len;
		}
		n = Const(p, t, CK_STR);
		n->cval->u.s.p = s;
		n->cval->u.s.len = len;
	}
	else if (t->kind == TK_INT)
	{
		Next(p);
		n = Const(p, t, CK_INT);
		n->cval->u.i = t->ival;
	}
	else if (t->kind == TK_FLOAT)
	{
		Next(p);
		n = Const(p, t, CK_FLOAT);
		n->cval->u.f = t->fval;
	}
	else if (IsOp(t, '('))
	{
		Next(p);
		if (IsOp(Cur(p), ')'))
		{
			n = NewNode(p, E_LIST, t);
			n->op = 1;
			n = Fin(p, n);
		}
		else
		{
			n = ParseTuple(p, true);
			/* a one-element tuple "(a,)" came back as a list node */
		}
		ExpectOp(p, ')');
	}
	else if (IsOp(t, '['))
	{
		NodeList	items = {0};

		Next(p);
		n = NewNode(p, E_LIST, t);
		while (!IsOp(Cur(p), ']'))
		{
			if (items.n > 0)
			{
				ExpectOp(p, ',');
				if (IsOp(Cur(p), ']'))
					break;
			}
			ListAdd(p, &items, ParseExpression(p, true));
		}
		ExpectOp(p, ']');
		n->args = items.items;
		n->nargs = items.n;
		n = Fin(p, n);
	}
	else if (IsOp(t, '{'))
	{
		NodeList	keys = {0};
		NodeList	vals = {0};

		Next(p);
		n = NewNode(p, E_DICT, t);
		while (!IsOp(Cur(p), '}'))
		{
			if (keys.n > 0)
			{
				ExpectOp(p, ',');
				if (IsOp(Cur(p), '}'))
					break;
			}
			ListAdd(p, &keys, ParseExpression(p, true));
			ExpectOp(p, ':');
			ListAdd(p, &vals, ParseExpression(p, true));
		}
		ExpectOp(p, '}');
		n->args = keys.items;
		n->nargs = keys.n;
		n->kwvals = vals.items;
		n->nkw = vals.n;
		n = Fin(p, n);
	}
	else
		ParseFail(p, t, LLM_ERR_FORMAT, "unexpected %s", Describe(t, buf, sizeof(buf)));
	Leave(p);
	return n;
}

/* unary - and +, then postfix, then (optionally) filters and tests */
static ChatNode *
ParseUnary(Parser *p, bool with_filter)
{
	const ChatToken *t = Cur(p);
	ChatNode   *node;

	Enter(p);
	if (IsOp(t, '-') || IsOp(t, '+'))
	{
		Next(p);
		node = NewNode(p, E_UNARY, t);
		node->op = t->op == '-' ? OP_NEG : OP_POS;
		node->a = ParseUnary(p, false);
		node = Fin(p, node);
	}
	else
		node = ParsePrimary(p);
	node = ParsePostfix(p, node);
	if (with_filter)
		node = ParseFilterExpr(p, node);
	Leave(p);
	return node;
}

/* a left-associative binary node */
static ChatNode *
BinOp(Parser *p, const ChatToken *t, int op, ChatNode *a, ChatNode *b)
{
	ChatNode   *n = NewNode(p, E_BINOP, t);

	n->op = op;
	n->a = a;
	n->b = b;
	return Fin(p, n);
}

static ChatNode *
ParsePow(Parser *p)
{
	ChatNode   *left = ParseUnary(p, true);

	while (IsOp(Cur(p), OP_POW))
	{
		const ChatToken *t = Next(p);

		left = BinOp(p, t, OP_POW, left, ParseUnary(p, true));
	}
	return left;
}

static ChatNode *
ParseMath2(Parser *p)
{
	ChatNode   *left = ParsePow(p);

	while (IsOp(Cur(p), '*') || IsOp(Cur(p), '/') || IsOp(Cur(p), OP_FLOORDIV) ||
		   IsOp(Cur(p), '%'))
	{
		const ChatToken *t = Next(p);

		left = BinOp(p, t, t->op, left, ParsePow(p));
	}
	return left;
}

static ChatNode *
ParseConcat(Parser *p)
{
	ChatNode   *left = ParseMath2(p);

	while (IsOp(Cur(p), '~'))
	{
		const ChatToken *t = Next(p);

		left = BinOp(p, t, '~', left, ParseMath2(p));
	}
	return left;
}

static ChatNode *
ParseMath1(Parser *p)
{
	ChatNode   *left = ParseConcat(p);

	while (IsOp(Cur(p), '+') || IsOp(Cur(p), '-'))
	{
		const ChatToken *t = Next(p);

		left = BinOp(p, t, t->op, left, ParseConcat(p));
	}
	return left;
}

/* comparisons, possibly chained: a < b <= c, a in b, a not in b */
static ChatNode *
ParseCompare(Parser *p)
{
	ChatNode   *first = ParseMath1(p);
	NodeList	rhs = {0};
	int		   *ops = NULL;
	int			nops = 0;
	const ChatToken *at = Cur(p);

	for (;;)
	{
		const ChatToken *t = Cur(p);
		int			op;
		int		   *nops_arr;

		if (IsOp(t, OP_EQ) || IsOp(t, OP_NE) || IsOp(t, '<') || IsOp(t, '>') ||
			IsOp(t, OP_LE) || IsOp(t, OP_GE))
		{
			op = t->op;
			Next(p);
		}
		else if (IsName(t, "in"))
		{
			op = OP_IN;
			Next(p);
		}
		else if (IsName(t, "not") && IsName(Peek(p, 1), "in"))
		{
			op = OP_NOTIN;
			Next(p);
			Next(p);
		}
		else
			break;
		nops_arr = PAlloc(p, (nops + 1) * sizeof(int));
		if (nops)
			memcpy(nops_arr, ops, nops * sizeof(int));
		ops = nops_arr;
		ops[nops++] = op;
		ListAdd(p, &rhs, ParseMath1(p));
	}
	if (nops == 0)
		return first;
	{
		ChatNode   *n = NewNode(p, E_COMPARE, at);

		n->a = first;
		n->args = rhs.items;
		n->nargs = rhs.n;
		n->ops = ops;
		return Fin(p, n);
	}
}

static ChatNode *
ParseNot(Parser *p)
{
	if (IsName(Cur(p), "not"))
	{
		const ChatToken *t = Next(p);
		ChatNode   *n = NewNode(p, E_UNARY, t);

		Enter(p);
		n->op = OP_NOT;
		n->a = ParseNot(p);
		Leave(p);
		return Fin(p, n);
	}
	return ParseCompare(p);
}

static ChatNode *
ParseAnd(Parser *p)
{
	ChatNode   *left = ParseNot(p);

	while (IsName(Cur(p), "and"))
	{
		const ChatToken *t = Next(p);
		ChatNode   *n = NewNode(p, E_AND, t);

		n->a = left;
		n->b = ParseNot(p);
		left = Fin(p, n);
	}
	return left;
}

static ChatNode *
ParseOr(Parser *p)
{
	ChatNode   *left = ParseAnd(p);

	while (IsName(Cur(p), "or"))
	{
		const ChatToken *t = Next(p);
		ChatNode   *n = NewNode(p, E_OR, t);

		n->a = left;
		n->b = ParseAnd(p);
		left = Fin(p, n);
	}
	return left;
}

/* an expression; with_cond allows "a if b else c" at the top */
static ChatNode *
ParseExpression(Parser *p, bool with_cond)
{
	ChatNode   *node;

	Enter(p);
	node = ParseOr(p);
	while (with_cond && IsName(Cur(p), "if"))
	{
		const ChatToken *t = Next(p);
		ChatNode   *n = NewNode(p, E_COND, t);

		n->a = node;
		n->b = ParseOr(p);
		if (IsName(Cur(p), "else"))
		{
			Next(p);
			n->c = ParseExpression(p, true);
		}
		node = Fin(p, n);
	}
	Leave(p);
	return node;
}

/* end of an implicit tuple */
static bool
TupleEnd(Parser *p)
{
	const ChatToken *t = Cur(p);

	return t->kind == TK_VAR_END || t->kind == TK_BLOCK_END || t->kind == TK_EOF ||
		IsOp(t, ')') || IsOp(t, ']') || IsOp(t, '}') || IsName(t, "recursive");
}

/* expressions separated by commas: a tuple (a list node) if any comma */
static ChatNode *
ParseTuple(Parser *p, bool with_cond)
{
	const ChatToken *at = Cur(p);
	NodeList	items = {0};
	bool		is_tuple = false;
	ChatNode   *n;

	for (;;)
	{
		if (items.n > 0)
			ExpectOp(p, ',');
		if (items.n > 0 && TupleEnd(p))
			break;
		ListAdd(p, &items, ParseExpression(p, with_cond));
		if (IsOp(Cur(p), ','))
			is_tuple = true;
		else
			break;
	}
	if (!is_tuple)
		return items.items[0];
	n = NewNode(p, E_LIST, at);
	n->op = 1;
	n->args = items.items;
	n->nargs = items.n;
	return Fin(p, n);
}

/* consume the %} that ends a block tag */
static void
EndTag(Parser *p)
{
	Expect(p, TK_BLOCK_END, "end of tag '%}'");
}

/* assignment targets: name, or names separated by commas */
static void
ParseTargets(Parser *p, ChatNode *n)
{
	bool		paren = IsOp(Cur(p), '(');

	if (paren)
		Next(p);
	do
	{
		if (n->nnames > 0)
			Next(p);			/* the comma */
		NameAdd(p, &n->names, &n->nnames, ExpectName(p));
	} while (IsOp(Cur(p), ','));
	if (paren)
		ExpectOp(p, ')');
}

static const char *const EndFor[] = {"endfor", "else", NULL};
static const char *const EndForElse[] = {"endfor", NULL};
static const char *const EndIf[] = {"elif", "else", "endif", NULL};
static const char *const EndIfElse[] = {"endif", NULL};
static const char *const EndSet[] = {"endset", NULL};
static const char *const EndMacro[] = {"endmacro", NULL};
static const char *const EndGeneration[] = {"endgeneration", NULL};
static const char *const EndWith[] = {"endwith", NULL};
static const char *const EndFilter[] = {"endfilter", NULL};
static const char *const EndBlock[] = {"endblock", NULL};

/*
 * The end of a for or if: an optional {% else %} body up to ends, then the
 * end tag; n takes the else body
 */
static ChatNode *
FinishElse(Parser *p, ChatNode *n, const char *const *ends)
{
	NodeList	orelse = {0};

	if (IsName(Cur(p), "else"))
	{
		Next(p);
		EndTag(p);
		ParseBody(p, ends, &orelse);
	}
	Next(p);					/* endfor, endif */
	EndTag(p);
	n->orelse = orelse.items;
	n->norelse = orelse.n;
	return Fin(p, n);
}

/* {% for targets in iterable [if cond] %} body [{% else %} body] {% endfor %} */
static ChatNode *
ParseFor(Parser *p, const ChatToken *at)
{
	ChatNode   *n = NewNode(p, N_FOR, at);
	NodeList	body = {0};

	ParseTargets(p, n);
	if (!IsName(Cur(p), "in"))
		ParseFail(p, Cur(p), LLM_ERR_FORMAT, "expected 'in' in for loop");
	Next(p);
	n->a = ParseTuple(p, false);
	if (IsName(Cur(p), "if"))
	{
		Next(p);
		n->b = ParseExpression(p, true);
	}
	if (IsName(Cur(p), "recursive"))
		ParseFail(p, Cur(p), LLM_ERR_UNSUPPORTED, "recursive loops are not supported");
	EndTag(p);
	p->loops++;
	ParseBody(p, EndFor, &body);
	p->loops--;
	n->body = body.items;
	n->nbody = body.n;
	return FinishElse(p, n, EndForElse);
}

/* {% if %} ... {% elif %} ... {% else %} ... {% endif %} */
static ChatNode *
ParseIf(Parser *p, const ChatToken *at)
{
	ChatNode   *n = NewNode(p, N_IF, at);
	NodeList	body = {0};
	NodeList	orelse = {0};

	n->a = ParseTuple(p, false);
	EndTag(p);
	ParseBody(p, EndIf, &body);
	n->body = body.items;
	n->nbody = body.n;
	if (IsName(Cur(p), "elif"))
	{
		const ChatToken *t = Next(p);

		Enter(p);
		ListAdd(p, &orelse, ParseIf(p, t));
		Leave(p);
		n->orelse = orelse.items;
		n->norelse = orelse.n;
		return Fin(p, n);		/* the nested if consumed endif */
	}
	return FinishElse(p, n, EndIfElse);
}

/* {% set x = v %}, {% set ns.a = v %}, {% set a, b = v %}, block set */
static ChatNode *
ParseSet(Parser *p, const ChatToken *at)
{
	ChatNode   *n = NewNode(p, N_SET, at);

	if (Cur(p)->kind == TK_NAME && IsOp(Peek(p, 1), '.'))
	{
		n->kind = N_SETATTR;
		NameAdd(p, &n->names, &n->nnames, ExpectName(p));
		Next(p);
		n->str = ExpectName(p);
		n->len = strlen(n->str);
		ExpectOp(p, '=');
		n->a = ParseTuple(p, true);
		EndTag(p);
		return Fin(p, n);
	}
	ParseTargets(p, n);
	if (IsOp(Cur(p), '='))
	{
		Next(p);
		n->a = ParseTuple(p, true);
		EndTag(p);
		return Fin(p, n);
	}
	if (n->nnames != 1)
		ParseFail(p, Cur(p), LLM_ERR_FORMAT, "expected '='");
	n->kind = N_SETBLOCK;
	while (IsOp(Cur(p), '|'))
	{
		Next(p);
		n->a = ParseFilter(p, n->a);
	}
	EndTag(p);
	{
		NodeList	body = {0};

		ParseBody(p, EndSet, &body);
		Next(p);
		EndTag(p);
		n->body = body.items;
		n->nbody = body.n;
	}
	return Fin(p, n);
}

/* {% macro name(a, b=default) %} body {% endmacro %} */
static ChatNode *
ParseMacro(Parser *p, const ChatToken *at)
{
	ChatNode   *n = NewNode(p, N_MACRO, at);
	NodeList	defaults = {0};
	NodeList	body = {0};
	int			saved_loops = p->loops;

	n->str = ExpectName(p);
	ExpectOp(p, '(');
	while (!IsOp(Cur(p), ')'))
	{
		if (n->nnames > 0)
			ExpectOp(p, ',');
		NameAdd(p, &n->names, &n->nnames, ExpectName(p));
		if (IsOp(Cur(p), '='))
		{
			Next(p);
			ListAdd(p, &defaults, ParseExpression(p, true));
		}
		else if (defaults.n > 0)
			ParseFail(p, Cur(p), LLM_ERR_FORMAT, "non-default argument follows default argument");
		else
			ListAdd(p, &defaults, NULL);
	}
	ExpectOp(p, ')');
	EndTag(p);
	p->loops = 0;
	ParseBody(p, EndMacro, &body);
	p->loops = saved_loops;
	Next(p);
	EndTag(p);
	/* defaults are kept in args, one per parameter (NULL: required) */
	n->args = defaults.items;
	n->nargs = defaults.n;
	n->body = body.items;
	n->nbody = body.n;
	return Fin(p, n);
}

/* a body-only block ending in one of ends */
static ChatNode *
ParseSimpleBlock(Parser *p, const ChatToken *at, const char *const *ends)
{
	ChatNode   *n = NewNode(p, N_BLOCK, at);
	NodeList	body = {0};

	EndTag(p);
	ParseBody(p, ends, &body);
	Next(p);
	if (Cur(p)->kind == TK_NAME)
		Next(p);				/* {% endblock name %} */
	EndTag(p);
	n->body = body.items;
	n->nbody = body.n;
	return Fin(p, n);
}

/* {% with a = 1, b = 2 %} body {% endwith %}: a scope with variables */
static ChatNode *
ParseWith(Parser *p, const ChatToken *at)
{
	ChatNode   *n = NewNode(p, N_BLOCK, at);
	NodeList	vals = {0};
	NodeList	body = {0};

	while (Cur(p)->kind != TK_BLOCK_END)
	{
		if (n->nnames > 0)
			ExpectOp(p, ',');
		NameAdd(p, &n->names, &n->nnames, ExpectName(p));
		ExpectOp(p, '=');
		ListAdd(p, &vals, ParseExpression(p, true));
	}
	EndTag(p);
	ParseBody(p, EndWith, &body);
	Next(p);
	EndTag(p);
	n->args = vals.items;
	n->nargs = vals.n;
	n->body = body.items;
	n->nbody = body.n;
	return Fin(p, n);
}

/* {% filter name(args) | ... %} body {% endfilter %} */
static ChatNode *
ParseFilterBlock(Parser *p, const ChatToken *at)
{
	ChatNode   *n = NewNode(p, N_FILTERBLOCK, at);
	NodeList	body = {0};

	n->a = ParseFilter(p, NULL);
	while (IsOp(Cur(p), '|'))
	{
		Next(p);
		n->a = ParseFilter(p, n->a);
	}
	EndTag(p);
	ParseBody(p, EndFilter, &body);
	Next(p);
	EndTag(p);
	n->body = body.items;
	n->nbody = body.n;
	return Fin(p, n);
}

/* one {% tag %} statement; the {% has been consumed */
static ChatNode *
ParseStatement(Parser *p)
{
	const ChatToken *t = Cur(p);
	char		buf[64];
	ChatNode   *n;

	if (t->kind != TK_NAME)
		ParseFail(p, t, LLM_ERR_FORMAT, "expected a tag name, got %s",
				  Describe(t, buf, sizeof(buf)));
	Next(p);
	Enter(p);
	if (IsName(t, "for"))
		n = ParseFor(p, t);
	else if (IsName(t, "if"))
		n = ParseIf(p, t);
	else if (IsName(t, "set"))
		n = ParseSet(p, t);
	else if (IsName(t, "macro"))
		n = ParseMacro(p, t);
	else if (IsName(t, "break") || IsName(t, "continue"))
	{
		if (p->loops == 0)
			ParseFail(p, t, LLM_ERR_FORMAT, "'%s' outside of a loop", NameOf(p, t));
		n = Fin(p, NewNode(p, IsName(t, "break") ? N_BREAK : N_CONTINUE, t));
		EndTag(p);
	}
	else if (IsName(t, "generation"))
		n = ParseSimpleBlock(p, t, EndGeneration);
	else if (IsName(t, "block"))
	{
		ExpectName(p);
		n = ParseSimpleBlock(p, t, EndBlock);
	}
	else if (IsName(t, "with"))
		n = ParseWith(p, t);
	else if (IsName(t, "filter"))
		n = ParseFilterBlock(p, t);
	else if (IsName(t, "endfor") || IsName(t, "endif") || IsName(t, "else") ||
			 IsName(t, "elif") || IsName(t, "endset") || IsName(t, "endmacro") ||
			 IsName(t, "endwith") || IsName(t, "endfilter") || IsName(t, "endblock") ||
			 IsName(t, "endgeneration"))
		ParseFail(p, t, LLM_ERR_FORMAT, "unexpected '%s'", NameOf(p, t));
	else
		ParseFail(p, t, LLM_ERR_UNSUPPORTED, "unsupported tag '%s'", NameOf(p, t));
	Leave(p);
	return n;
}

/*
 * Statements up to a {% tag %} named in ends (NULL: up to the end of the
 * template); stops with the current token on that tag's name.
 */
static void
ParseBody(Parser *p, const char *const *ends, NodeList *out)
{
	char		buf[64];

	for (;;)
	{
		const ChatToken *t = Cur(p);

		if (t->kind == TK_EOF)
		{
			if (ends != NULL)
			{
				char		want[128] = "";

				for (int i = 0; ends[i]; i++)
					snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s'%s'",
							 i ? " or " : "", ends[i]);
				ParseFail(p, t, LLM_ERR_FORMAT, "unexpected end of template, expected %s", want);
			}
			return;
		}
		if (t->kind == TK_TEXT)
		{
			ChatNode   *n = NewNode(p, N_TEXT, t);

			n->str = t->str;
			n->len = t->len;
			ListAdd(p, out, Fin(p, n));
			Next(p);
		}
		else if (t->kind == TK_VAR_BEGIN)
		{
			ChatNode   *n = NewNode(p, N_OUTPUT, t);

			Next(p);
			n->a = ParseTuple(p, true);
			Expect(p, TK_VAR_END, "end of print statement '}}'");
			ListAdd(p, out, Fin(p, n));
		}
		else if (t->kind == TK_BLOCK_BEGIN)
		{
			const ChatToken *name = Peek(p, 1);

			for (int i = 0; ends && ends[i]; i++)
				if (IsName(name, ends[i]))
				{
					Next(p);
					return;
				}
			Next(p);
			ListAdd(p, out, ParseStatement(p));
		}
		else
			ParseFail(p, t, LLM_ERR_FORMAT, "unexpected %s", Describe(t, buf, sizeof(buf)));
	}
}

/* parse a whole token stream into a statement list */
int
ChatParseTokens(const ChatToken *tokens, size_t ntokens, ChatArena *arena,
				ChatNode ***body, int *nbody, LlmError *err)
{
	Parser		p;
	NodeList	out = {0};

	memset(&p, 0, sizeof(p));
	p.toks = tokens;
	p.ntoks = ntokens;
	p.arena = arena;
	p.err = err;
	if (setjmp(p.jump) != 0)
		return err ? err->code : LLM_ERR_FORMAT;
	ParseBody(&p, NULL, &out);
	*body = out.items;
	*nbody = out.n;
	return LLM_OK;
}
