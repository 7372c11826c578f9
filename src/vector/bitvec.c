/*-------------------------------------------------------------------------
 *
 * bitvec.c
 *	  Hamming and Jaccard distances over the core bit type.
 *
 * PostgreSQL keeps the pad bits of the last byte of a bit string zero, so
 * the popcount kernels of vecdist.h can work on whole bytes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/varbit.h"

#include "vector/vecdist.h"

/*
 * Reject two bit strings of different lengths
 */
static void
CheckBitLengths(const VarBit *a, const VarBit *b)
{
	if (VARBITLEN(a) != VARBITLEN(b))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different bit lengths %u and %u",
						(uint32) VARBITLEN(a), (uint32) VARBITLEN(b))));
}

/*
 * Number of positions at which the bits differ
 */
PG_FUNCTION_INFO_V1(hamming_distance);
Datum
hamming_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);

	CheckBitLengths(a, b);
	PG_RETURN_FLOAT8((double) VecHammingBits(VARBITBYTES(a), VARBITS(a), VARBITS(b)));
}

/*
 * 1 - |a & b| / |a | b|; 1 when the two share no set bit (also when both
 * are all zeros)
 */
PG_FUNCTION_INFO_V1(jaccard_distance);
Datum
jaccard_distance(PG_FUNCTION_ARGS)
{
	VarBit	   *a = PG_GETARG_VARBIT_P(0);
	VarBit	   *b = PG_GETARG_VARBIT_P(1);
	uint64_t	ab,
				aa,
				bb;

	CheckBitLengths(a, b);
	VecJaccardBits(VARBITBYTES(a), VARBITS(a), VARBITS(b), &ab, &aa, &bb);

	if (ab == 0)
		PG_RETURN_FLOAT8(1.0);
	PG_RETURN_FLOAT8(1.0 - (double) ab / (double) (aa + bb - ab));
}
