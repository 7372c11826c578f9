/*-------------------------------------------------------------------------
 *
 * fspitsum.c
 *	  mlops.training_set_checksum: an order-independent checksum of a
 *	  table's rows.
 *
 * Each row is hashed from its stored values (the bytes of each column, a
 * marker for NULL) with two seeds; the two 64-bit hashes are summed over
 * the rows, modulo 2^64.  Addition makes the result independent of the
 * order the rows are read in, and values are hashed in their binary form,
 * so that no session setting (time zone, date style, float digits) changes
 * the result.  create_training_set records it; recomputing it later tells
 * whether the table still holds the same rows.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "fs/fs.h"

#define SUM_SEED_A	UINT64CONST(0)
#define SUM_SEED_B	UINT64CONST(0x9e3779b97f4a7c15)

/* a DestReceiver summing the hashes of the rows it receives */
typedef struct SumReceiver
{
	DestReceiver pub;
	uint64		sum_a;
	uint64		sum_b;
	int64		rows;
	MemoryContext row_cxt;		/* detoasted values of one row */
} SumReceiver;

/* fold one value (or NULL) into the two running hashes */
static void
HashValue(Datum d, bool isnull, Form_pg_attribute att, uint64 *a, uint64 *b)
{
	const unsigned char *p;
	Size		len;
	int64		v;
	static const unsigned char null_marker = 0xff;

	if (isnull)
	{
		p = &null_marker;
		len = 1;
	}
	else if (att->attbyval)
	{
		switch (att->attlen)
		{
			case 1:
				v = DatumGetChar(d);
				break;
			case 2:
				v = DatumGetInt16(d);
				break;
			case 4:
				v = DatumGetInt32(d);
				break;
			default:
				v = DatumGetInt64(d);
				break;
		}
		p = (const unsigned char *) &v;
		len = sizeof(v);
	}
	else if (att->attlen == -1)
	{
		struct varlena *vl = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));

		p = (const unsigned char *) VARDATA_ANY(vl);
		len = VARSIZE_ANY_EXHDR(vl);
	}
	else if (att->attlen == -2)
	{
		p = (const unsigned char *) DatumGetCString(d);
		len = strlen((const char *) p);
	}
	else
	{
		p = (const unsigned char *) DatumGetPointer(d);
		len = att->attlen;
	}
	/* the length first, so that adjacent values cannot trade bytes */
	*a = hash_bytes_extended((const unsigned char *) &len, sizeof(len), *a);
	*b = hash_bytes_extended((const unsigned char *) &len, sizeof(len), *b);
	*a = hash_bytes_extended(p, (int) len, *a);
	*b = hash_bytes_extended(p, (int) len, *b);
}

/* DestReceiver: add one row's hashes */
static bool
SumReceiveSlot(TupleTableSlot *slot, DestReceiver *self)
{
	SumReceiver *sr = (SumReceiver *) self;
	TupleDesc	desc = slot->tts_tupleDescriptor;
	uint64		a = SUM_SEED_A;
	uint64		b = SUM_SEED_B;
	MemoryContext old = MemoryContextSwitchTo(sr->row_cxt);

	slot_getallattrs(slot);
	for (int i = 0; i < desc->natts; i++)
		HashValue(slot->tts_values[i], slot->tts_isnull[i], TupleDescAttr(desc, i), &a, &b);
	MemoryContextSwitchTo(old);
	MemoryContextReset(sr->row_cxt);
	sr->sum_a += a;
	sr->sum_b += b;
	sr->rows++;
	return true;
}

/*
 * The checksum of a table's rows: 32 hex digits, independent of row order
 */
PG_FUNCTION_INFO_V1(training_set_checksum);
Datum
training_set_checksum(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *relname = get_rel_name(relid);
	char	   *nspname;
	SumReceiver sr;
	char	   *sql;

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	nspname = get_namespace_name(get_rel_namespace(relid));
	sql = psprintf("SELECT * FROM %s", quote_qualified_identifier(nspname, relname));

	memset(&sr, 0, sizeof(sr));
	FeatureStoreReceiverInit(&sr.pub, SumReceiveSlot);
	sr.row_cxt = AllocSetContextCreate(CurrentMemoryContext, "pgmlops checksum row",
									   ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	FeatureStoreRunQuery(sql, NULL, &sr.pub);
	SPI_finish();
	MemoryContextDelete(sr.row_cxt);

	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%016llx%016llx",
											  (unsigned long long) sr.sum_a,
											  (unsigned long long) sr.sum_b)));
}
