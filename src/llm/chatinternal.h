/*-------------------------------------------------------------------------
 *
 * chatinternal.h
 *	  Internal definitions shared by the chat-template interpreter:
 *	  arenas, values, tokens, the syntax tree and the render state.
 *
 * The interpreter runs in three phases: chatlex.c turns the template
 * source into tokens (applying Jinja's whitespace control with
 * trim_blocks and lstrip_blocks on, as transformers configures it),
 * chatparse.c builds a syntax tree, and chateval.c walks it, with the
 * filters and tests in chatfilter.c, the methods and global functions in
 * chatmethod.c and the value model in chatvalue.c.
 *
 * Memory: the tree lives in the template's arena; everything a render
 * creates lives in the render's arena, freed in one go when it ends.
 * Errors inside a render longjmp back to ChatTemplateRender (never across
 * a foreign library's frames), so no partial state needs unwinding.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMLOPS_LLM_CHATINTERNAL_H
#define PGMLOPS_LLM_CHATINTERNAL_H

#include <setjmp.h>

#include <jansson.h>

#include "llm/llm.h"
#include "llm/utf8.h"

/* limits that keep a hostile template from hanging or exhausting memory */
#define CHAT_MAX_SOURCE		(1024 * 1024)	/* template source bytes */
#define CHAT_MAX_TREE_DEPTH 100 /* nesting of expressions and blocks */
#define CHAT_MAX_OUTPUT		(10 * 1024 * 1024)	/* rendered bytes, any string */
#define CHAT_MAX_ARENA		(256 * 1024 * 1024) /* memory of one render */
#define CHAT_MAX_STEPS		10000000	/* evaluated nodes and iterations */
#define CHAT_MAX_CALL_DEPTH 16	/* nested macro calls */
#define CHAT_MAX_VALUE_DEPTH 512	/* nesting when printing or comparing */

/* ---- arena ---- */

typedef struct ChatArenaBlock ChatArenaBlock;

typedef struct ChatArena
{
	ChatArenaBlock *head;
	size_t		total;			/* bytes obtained from malloc */
	size_t		limit;
} ChatArena;

/* chatvalue.c: arena; ChatArenaAlloc returns NULL past the limit */
extern void *ChatArenaAlloc(ChatArena *arena, size_t size);
extern void ChatArenaFree(ChatArena *arena);

/* ---- values ---- */

typedef enum ChatKind
{
	CK_UNDEF,
	CK_NONE,
	CK_BOOL,
	CK_INT,
	CK_FLOAT,
	CK_STR,
	CK_LIST,
	CK_DICT,
	CK_NS,						/* namespace(): a dict whose members can be set */
	CK_LOOP,					/* the loop variable of a for */
	CK_MACRO,
	CK_FUNC						/* a global function: range, namespace... */
} ChatKind;

typedef struct ChatValue ChatValue;
typedef struct ChatNode ChatNode;
typedef struct ChatScope ChatScope;

typedef struct ChatDict
{
	ChatValue **keys;
	ChatValue **vals;
	size_t		n;
	size_t		cap;
} ChatDict;

typedef struct ChatLoop
{
	ChatValue **items;			/* what is iterated */
	size_t		n;
	size_t		index0;
	int			depth0;
} ChatLoop;

typedef struct ChatMacro
{
	const ChatNode *def;
	ChatScope  *scope;			/* where it was defined */
} ChatMacro;

/* global functions */
typedef enum ChatFunc
{
	CF_RANGE,
	CF_NAMESPACE,
	CF_RAISE,
	CF_STRFTIME,
	CF_DICT
} ChatFunc;

struct ChatValue
{
	ChatKind	kind;
	union
	{
		bool		b;
		int64_t		i;
		double		f;
		struct
		{
			const char *p;
			size_t		len;
		}			s;
		struct
		{
			ChatValue **items;
			size_t		n;
			bool		tuple;	/* a tuple: prints as (a, b) */
			bool		lazy;	/* a Python generator (what select, map...
								 * return): always true, no len() */
		}			list;
		ChatDict   *dict;		/* CK_DICT and CK_NS */
		ChatLoop   *loop;
		ChatMacro  *macro;
		ChatFunc	func;
	}			u;
	const char *name;			/* CK_UNDEF: what was looked up, for errors */
};

/* ---- tokens ---- */

typedef enum ChatTokKind
{
	TK_TEXT,					/* literal template text */
	TK_VAR_BEGIN,				/* {{ */
	TK_VAR_END,					/* }} */
	TK_BLOCK_BEGIN,				/* {% */
	TK_BLOCK_END,				/* %} */
	TK_NAME,
	TK_STRING,					/* unescaped value in str/len */
	TK_INT,
	TK_FLOAT,
	TK_OP,						/* operator or punctuation; op holds its code */
	TK_EOF
} ChatTokKind;

/* operator codes: single characters are themselves, the rest below */
enum
{
	OP_EQ = 256,				/* == */
	OP_NE,						/* != */
	OP_LE,						/* <= */
	OP_GE,						/* >= */
	OP_FLOORDIV,				/* // */
	OP_POW,						/* ** */
	/* operators made of keywords, used in the tree */
	OP_IN,
	OP_NOTIN,
	OP_AND,
	OP_OR,
	OP_NOT,
	OP_NEG,
	OP_POS
};

typedef struct ChatToken
{
	ChatTokKind kind;
	int			op;
	const char *str;			/* name, string value or text */
	size_t		len;
	int64_t		ival;
	double		fval;
	int			line;
	int			col;
} ChatToken;

/* chatlex.c: tokenize; tokens and their strings live in arena */
extern int	ChatLex(const char *src, size_t len, ChatArena *arena,
					ChatToken **tokens, size_t *ntokens, LlmError *err);

/* ---- syntax tree ---- */

typedef enum ChatNodeKind
{
	/* statements */
	N_TEXT,						/* str, len */
	N_OUTPUT,					/* a */
	N_IF,						/* a = condition, body, orelse */
	N_FOR,						/* names = targets, a = iterable, b = filter */
	N_SET,						/* names[0] = variable, a = value */
	N_SETATTR,					/* names[0] = namespace variable, str = attr */
	N_SETBLOCK,					/* names[0] = variable, body, a = filter */
	N_MACRO,					/* str = name, names = params, args = defaults */
	N_BREAK,
	N_CONTINUE,
	N_BLOCK,					/* body only: {% generation %}, {% with %} */
	N_FILTERBLOCK,				/* body, a = filter applied to it */
	/* expressions */
	E_CONST,					/* cval */
	E_NAME,						/* str */
	E_LIST,						/* args; op = 1 for a tuple */
	E_DICT,						/* args = keys, kwvals = values */
	E_ATTR,						/* a.str */
	E_ITEM,						/* a[b] */
	E_SLICE,					/* a[b:c:d]; each may be NULL */
	E_CALL,						/* a(args, kwnames = kwvals) */
	E_FILTER,					/* a | fid(args, kwnames = kwvals); a may be NULL */
	E_TEST,						/* a is [not] tid(args) */
	E_BINOP,					/* a op b; op in + - * / // % ** ~ */
	E_UNARY,					/* op a; op in OP_NEG OP_POS OP_NOT */
	E_AND,
	E_OR,
	E_COMPARE,					/* a ops[0] args[0] ops[1] args[1]... */
	E_COND						/* a if b else c */
} ChatNodeKind;

struct ChatNode
{
	ChatNodeKind kind;
	int			line;
	int			col;
	int			depth;
	int			op;				/* operator; E_TEST: negated */
	int			fid;			/* filter or test id */
	ChatNode   *a;
	ChatNode   *b;
	ChatNode   *c;
	ChatNode   *d;
	ChatNode  **body;			/* statements */
	int			nbody;
	ChatNode  **orelse;			/* statements of else / elif */
	int			norelse;
	ChatNode  **args;			/* positional arguments, list items, keys */
	int			nargs;
	const char **kwnames;		/* keyword argument names */
	ChatNode  **kwvals;			/* their values; dict values */
	int			nkw;
	int		   *ops;			/* E_COMPARE operators */
	const char **names;			/* targets, parameter names */
	int			nnames;
	const char *str;
	size_t		len;
	ChatValue  *cval;			/* E_CONST */
};

/* chatparse.c: tokens -> tree (a list of statements) */
extern int	ChatParseTokens(const ChatToken *tokens, size_t ntokens,
							ChatArena *arena, ChatNode ***body, int *nbody,
							LlmError *err);

/* ---- filters and tests (chatfilter.c) ---- */

/* id of a filter or test by name, -1 if unknown */
extern int	ChatFilterLookup(const char *name);
extern int	ChatTestLookup(const char *name);

/* ---- render state ---- */

typedef struct ChatBuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
} ChatBuf;

struct ChatScope
{
	ChatScope  *parent;
	const char **names;
	ChatValue **vals;
	size_t		n;
	size_t		cap;
	bool		captured;		/* a macro closes over it: never reuse */
};

typedef struct ChatRender
{
	ChatArena	arena;
	jmp_buf		jump;			/* errors longjmp here */
	LlmError   *err;
	int			errcode;
	ChatBuf    *out;			/* where output goes now (captures nest) */
	int64_t		steps;
	int			call_depth;
	int			line;			/* of the node being evaluated, for errors */
	int			col;
	ChatValue  *v_none;
	ChatValue  *v_true;
	ChatValue  *v_false;
	ChatValue  *v_undef;
	ChatValue  *v_empty;		/* "" */
	bool		json_ascii;		/* tojson(ensure_ascii=True) in progress */
} ChatRender;

/* chatvalue.c: errors and allocation inside a render (these longjmp) */
extern void ChatFail(ChatRender *r, int code, const char *fmt,...)
			__attribute__((format(printf, 3, 4), noreturn));
extern void *ChatAlloc(ChatRender *r, size_t size);
extern void ChatStep(ChatRender *r, int64_t n);

/* chatvalue.c: constructors */
extern ChatValue *ChatNewValue(ChatRender *r, ChatKind kind);
extern ChatValue *ChatBool(ChatRender *r, bool b);
extern ChatValue *ChatInt(ChatRender *r, int64_t i);
extern ChatValue *ChatFloat(ChatRender *r, double f);
extern ChatValue *ChatStr(ChatRender *r, const char *p, size_t len);	/* copies */
extern ChatValue *ChatStrRef(ChatRender *r, const char *p, size_t len);	/* no copy */
extern ChatValue *ChatUndef(ChatRender *r, const char *name);
extern ChatValue *ChatList(ChatRender *r, size_t n);	/* n NULL items */
extern ChatValue *ChatNewDict(ChatRender *r, ChatKind kind);
extern void ChatDictSet(ChatRender *r, ChatDict *d, ChatValue *key, ChatValue *val);
extern ChatValue *ChatDictGet(ChatDict *d, const ChatValue *key);
extern ChatValue *ChatDictGetStr(ChatDict *d, const char *key, size_t len);
extern ChatValue *ChatFromJson(ChatRender *r, const json_t *json, int depth);

/* chatvalue.c: growable byte buffers capped at CHAT_MAX_OUTPUT */
extern void ChatBufAppend(ChatRender *r, ChatBuf *buf, const char *p, size_t len);
extern void ChatBufPuts(ChatRender *r, ChatBuf *buf, const char *s);
extern ChatValue *ChatBufToStr(ChatRender *r, ChatBuf *buf);	/* frees buf */

/* chatvalue.c: Python semantics */
extern bool ChatTruthy(const ChatValue *v);
extern bool ChatIsNumber(const ChatValue *v);	/* int, float or bool */
extern double ChatToDouble(const ChatValue *v);
extern const char *ChatKindName(const ChatValue *v);
extern void ChatAppendStr(ChatRender *r, ChatBuf *buf, const ChatValue *v, int depth);
extern void ChatAppendRepr(ChatRender *r, ChatBuf *buf, const ChatValue *v, int depth);
extern void ChatAppendJson(ChatRender *r, ChatBuf *buf, const ChatValue *v,
						   int indent, const char *item_sep,
						   const char *key_sep, bool sort_keys, int level);
extern ChatValue *ChatToStr(ChatRender *r, ChatValue *v);	/* str(v) */
extern bool ChatEqual(ChatRender *r, const ChatValue *a, const ChatValue *b, int depth);
extern int	ChatCompare(ChatRender *r, const ChatValue *a, const ChatValue *b, int depth);
extern void ChatAppendFloat(ChatBuf *buf, ChatRender *r, double f);

/* chatvalue.c: characters (the UTF-8 helpers are in utf8.h, loose reading) */
extern bool ChatIsSpace(uint32_t cp);	/* Python str.isspace */

/* chateval.c: iterate: the items of a list, keys of a dict, chars of a string */
extern void ChatIterItems(ChatRender *r, ChatValue *v, ChatValue ***items, size_t *n);
extern ChatValue *ChatGetAttr(ChatRender *r, ChatValue *obj, const char *name, size_t len);
extern ChatValue *ChatGetItem(ChatRender *r, ChatValue *obj, ChatValue *key);
extern ChatValue *ChatCallMacro(ChatRender *r, ChatValue *macro, ChatValue **args,
								int nargs, const char **kwnames, ChatValue **kwvals,
								int nkw);
extern ChatValue *ChatSlice(ChatRender *r, ChatValue *obj, ChatValue *start,
							ChatValue *stop, ChatValue *step);

/* ---- filters, tests, methods and global functions ---- */

/* the arguments of a call: positional, then keyword */
typedef struct ChatArgs
{
	ChatValue **pos;
	int			npos;
	const char **kwnames;
	ChatValue **kwvals;
	int			nkw;
} ChatArgs;

/* chatfilter.c: argument getters; ChatArg returns NULL if not given */
extern ChatValue *ChatArg(const ChatArgs *a, int i, const char *name);
extern int64_t ChatIntArg(ChatRender *r, const ChatArgs *a, int i, const char *name,
						  int64_t dflt);
extern ChatValue *ChatStrArg(ChatRender *r, const ChatArgs *a, int i, const char *name);
extern void ChatNeedStr(ChatRender *r, const ChatValue *v, const char *what);
extern const char *ChatCStr(ChatRender *r, const ChatValue *v);	/* NUL-terminated */

/* chatfilter.c: apply a filter or a test */
extern ChatValue *ChatApplyFilter(ChatRender *r, int fid, ChatValue *v,
								  ChatValue **args, int nargs, const char **kwnames,
								  ChatValue **kwvals, int nkw);
extern bool ChatApplyTest(ChatRender *r, int tid, ChatValue *v, ChatValue **args,
						  int nargs);

/* chatmethod.c: str and dict operations the filters share */
extern ChatValue *ChatStrip(ChatRender *r, ChatValue *s, ChatValue *chars, bool left,
							bool right);
extern ChatValue *ChatMapCase(ChatRender *r, ChatValue *s, char mode);
extern ChatValue *ChatReplace(ChatRender *r, ChatValue *s, ChatValue *old,
							  ChatValue *new, int64_t count);
extern int64_t ChatSearch(ChatRender *r, ChatValue *s, ChatValue *sub, bool count,
						  bool reverse);
extern bool ChatStrIs(const ChatValue *s, char kind);
extern ChatValue *ChatDictItems(ChatRender *r, ChatDict *d);

/* chatmethod.c: call a method or a global function */
extern ChatValue *ChatCallMethod(ChatRender *r, ChatValue *obj, const char *name,
								 ChatValue **args, int nargs, const char **kwnames,
								 ChatValue **kwvals, int nkw);
extern ChatValue *ChatCallFunc(ChatRender *r, ChatFunc f, ChatValue **args,
							   int nargs, const char **kwnames, ChatValue **kwvals,
							   int nkw);

/* chateval.c: render a statement list into r->out */
extern void ChatExecBody(ChatRender *r, ChatNode **body, int n, ChatScope *scope);
extern ChatScope *ChatNewScope(ChatRender *r, ChatScope *parent);
extern void ChatScopeSet(ChatRender *r, ChatScope *s, const char *name, ChatValue *v);

#endif							/* PGMLOPS_LLM_CHATINTERNAL_H */
