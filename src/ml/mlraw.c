/*-------------------------------------------------------------------------
 *
 * mlraw.c
 *	  The raw data container: input columns as read from the database,
 *	  before preprocessing.
 *
 * The glue creates the container with MlRawInit, fills each column's name,
 * type_name, kind and width, then appends rows: before writing row r it
 * calls MlRawReserve(raw, r + 1), which grows every column geometrically
 * so that appending n rows costs O(n) copies in all.  String slots beyond
 * the stored rows are always NULL, so MlRawFree can free every slot of the
 * capacity even when the glue stopped in the middle of a row.
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"

/* most columns a raw container takes (PostgreSQL allows 1664 in a row) */
#define ML_RAW_MAX_COLUMNS	4096
/* widest vector column */
#define ML_RAW_MAX_WIDTH	(1 << 20)
/* rows whose strings MlRawBytes measures (more are sampled) */
#define ML_RAW_EXACT_ROWS	65536
/* what malloc adds to each string, roughly */
#define ML_RAW_MALLOC_OVERHEAD 16
/* first capacity allocated */
#define ML_RAW_MIN_CAPACITY 64

/*
 * Set up raw with ncols zeroed columns and no rows
 */
int
MlRawInit(MlRawData *raw, int ncols, LlmError *err)
{
	memset(raw, 0, sizeof(*raw));
	if (ncols < 0 || ncols > ML_RAW_MAX_COLUMNS)
		return LlmSetError(err, LLM_ERR_ARGUMENT,
						   "a dataset has between 0 and %d columns, not %d",
						   ML_RAW_MAX_COLUMNS, ncols);
	raw->cols = LlmAllocZero(sizeof(MlRawColumn) * (size_t) (ncols > 0 ? ncols : 1), err);
	if (raw->cols == NULL)
		return LLM_ERR_NOMEM;
	raw->ncols = ncols;
	return LLM_OK;
}

/* check the shape the caller gave column c */
static int
CheckColumn(const MlRawColumn *col, int c, LlmError *err)
{
	const char *name = col->name ? col->name : "?";

	switch (col->kind)
	{
		case ML_COL_NUMERIC:
		case ML_COL_BOOLEAN:
		case ML_COL_CATEGORICAL:
			if (col->width != 1)
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "column %d (\"%s\") has width %d; only vector columns are wider than 1",
								   c + 1, name, col->width);
			break;
		case ML_COL_VECTOR:
			if (col->width < 1 || col->width > ML_RAW_MAX_WIDTH)
				return LlmSetError(err, LLM_ERR_ARGUMENT,
								   "vector column %d (\"%s\") has width %d, outside [1, %d]",
								   c + 1, name, col->width, ML_RAW_MAX_WIDTH);
			break;
		default:
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "column %d (\"%s\") has an unknown kind %d",
							   c + 1, name, (int) col->kind);
	}
	return LLM_OK;
}

/*
 * Make every column hold at least rows rows.  The capacity at least
 * doubles when it grows; rows already stored are kept.
 */
int
MlRawReserve(MlRawData *raw, int64_t rows, LlmError *err)
{
	int64_t		cap;
	size_t		max_elems;

	if (rows < 0)
		return LlmSetError(err, LLM_ERR_ARGUMENT, "cannot reserve %lld rows",
						   (long long) rows);
	if (rows <= raw->capacity)
		return LLM_OK;

	cap = raw->capacity > 0 ? raw->capacity : ML_RAW_MIN_CAPACITY;
	while (cap < rows)
		cap = cap > INT64_MAX / 2 ? INT64_MAX : cap * 2;

	for (int c = 0; c < raw->ncols; c++)
	{
		int			rc = CheckColumn(&raw->cols[c], c, err);

		if (rc != LLM_OK)
			return rc;
	}

	/*
	 * Clamp the doubled capacity to what the widest column can address,
	 * then refuse if even the requested rows do not fit.
	 */
	for (int c = 0; c < raw->ncols; c++)
	{
		const MlRawColumn *col = &raw->cols[c];
		size_t		elem = col->kind == ML_COL_CATEGORICAL ?
			sizeof(char *) : sizeof(double) * (size_t) col->width;

		max_elems = (size_t) PTRDIFF_MAX / elem;
		if ((uint64_t) rows > (uint64_t) max_elems)
			return LlmSetError(err, LLM_ERR_ARGUMENT,
							   "%lld rows of column \"%s\" do not fit in memory",
							   (long long) rows, col->name ? col->name : "?");
		if ((uint64_t) cap > (uint64_t) max_elems)
			cap = (int64_t) max_elems;
	}

	/*
	 * Grow each column.  A failure leaves the columns grown so far larger
	 * than raw->capacity, which is harmless: the next call reallocates them
	 * again.
	 */
	for (int c = 0; c < raw->ncols; c++)
	{
		MlRawColumn *col = &raw->cols[c];

		if (col->kind == ML_COL_CATEGORICAL)
		{
			char	  **s = realloc(col->str, sizeof(char *) * (size_t) cap);

			if (s == NULL)
				return LlmSetError(err, LLM_ERR_NOMEM,
								   "out of memory growing column \"%s\" to %lld rows",
								   col->name ? col->name : "?", (long long) cap);
			memset(s + raw->capacity, 0, sizeof(char *) * (size_t) (cap - raw->capacity));
			col->str = s;
		}
		else
		{
			double	   *d = realloc(col->num,
									sizeof(double) * (size_t) col->width * (size_t) cap);

			if (d == NULL)
				return LlmSetError(err, LLM_ERR_NOMEM,
								   "out of memory growing column \"%s\" to %lld rows",
								   col->name ? col->name : "?", (long long) cap);
			col->num = d;
		}
	}
	raw->capacity = cap;
	return LLM_OK;
}

/*
 * Bytes in use: the column arrays at their capacity, the names and the
 * stored strings (with 16 bytes of allocator overhead each).  Beyond
 * ML_RAW_EXACT_ROWS rows the strings are measured on an evenly spaced
 * sample of that many rows and scaled up, so that a caller checking a
 * limit after every batch of rows does not pay for a scan of every string
 * each time.
 */
size_t
MlRawBytes(const MlRawData *raw)
{
	size_t		total = sizeof(MlRawColumn) * (size_t) raw->ncols;
	int64_t		rows = raw->rows < raw->capacity ? raw->rows : raw->capacity;

	for (int c = 0; c < raw->ncols; c++)
	{
		const MlRawColumn *col = &raw->cols[c];

		if (col->name)
			total += strlen(col->name) + 1;
		if (col->type_name)
			total += strlen(col->type_name) + 1;
		if (col->num)
			total += sizeof(double) * (size_t) (col->width > 0 ? col->width : 1) *
				(size_t) raw->capacity;
		if (col->str)
		{
			int64_t		step = rows <= ML_RAW_EXACT_ROWS ? 1 : rows / ML_RAW_EXACT_ROWS;
			int64_t		seen = 0;
			double		bytes = 0;

			total += sizeof(char *) * (size_t) raw->capacity;
			for (int64_t r = 0; r < rows; r += step)
			{
				if (col->str[r])
					bytes += (double) (strlen(col->str[r]) + 1 + ML_RAW_MALLOC_OVERHEAD);
				seen++;
			}
			if (seen > 0)
				total += (size_t) (bytes * ((double) rows / (double) seen));
		}
	}
	return total;
}

/*
 * Free the strings, names and arrays; raw is left empty (freeing it twice
 * is harmless)
 */
void
MlRawFree(MlRawData *raw)
{
	if (raw->cols)
	{
		for (int c = 0; c < raw->ncols; c++)
		{
			MlRawColumn *col = &raw->cols[c];

			if (col->str)
			{
				for (int64_t r = 0; r < raw->capacity; r++)
					free(col->str[r]);
				free(col->str);
			}
			free(col->num);
			free(col->name);
			free(col->type_name);
		}
		free(raw->cols);
	}
	memset(raw, 0, sizeof(*raw));
}
