/*-------------------------------------------------------------------------
 *
 * mlsqlmem.c
 *	  Tie the ML core's malloc'ed objects to a PostgreSQL memory context.
 *
 * The core allocates with malloc.  Each object the glue creates through
 * these functions is freed by a reset callback of CurrentMemoryContext, so
 * an error or a cancel anywhere in training or prediction frees it along
 * with the context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "ml/mlsql.h"

typedef enum HeldKind
{
	HELD_RAW,
	HELD_PREP,
	HELD_MODEL,
	HELD_MALLOC
} HeldKind;

typedef struct Held
{
	MemoryContextCallback cb;
	HeldKind	kind;
	void	   *object;
} Held;

/* reset callback: free the object with the core's function */
static void
FreeHeld(void *arg)
{
	Held	   *h = (Held *) arg;

	switch (h->kind)
	{
		case HELD_RAW:
			MlRawFree((MlRawData *) h->object);
			break;
		case HELD_PREP:
			MlPrepFree((MlPrep *) h->object);
			break;
		case HELD_MODEL:
			MlModelFree((MlModel *) h->object);
			break;
		case HELD_MALLOC:
			free(h->object);
			break;
	}
}

/* register object (palloc'ed in CurrentMemoryContext, or malloc'ed) */
static void *
Hold(HeldKind kind, void *object)
{
	Held	   *h = palloc(sizeof(Held));

	h->kind = kind;
	h->object = object;
	h->cb.func = FreeHeld;
	h->cb.arg = h;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &h->cb);
	return object;
}

/* a zeroed MlRawData freed with CurrentMemoryContext */
MlRawData *
MlSqlHoldRaw(void)
{
	return Hold(HELD_RAW, palloc0(sizeof(MlRawData)));
}

/* a zeroed MlPrep freed with CurrentMemoryContext */
MlPrep *
MlSqlHoldPrep(void)
{
	return Hold(HELD_PREP, palloc0(sizeof(MlPrep)));
}

/* a zeroed MlModel freed with CurrentMemoryContext */
MlModel *
MlSqlHoldModel(void)
{
	return Hold(HELD_MODEL, palloc0(sizeof(MlModel)));
}

/* a malloc'ed buffer freed with CurrentMemoryContext (NULL passes) */
void *
MlSqlHoldMalloc(void *ptr)
{
	return ptr ? Hold(HELD_MALLOC, ptr) : NULL;
}
