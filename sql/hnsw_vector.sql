-- hnsw index on vector: every opclass, inserts after the build, NULLs,
-- zero vectors, duplicates, deletes with VACUUM, recall on a larger table
-- and the iterative scan settings.
SET enable_seqscan = off;

-- Small fixed data set (with some equal distances, so rows are displayed
-- ordered by distance and id, and hv_check compares the index order).
CREATE TABLE hv (id int, v vector(3));
INSERT INTO hv VALUES
	(1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]'), (4, '[1,2,3]'),
	(5, '[3,2,1]'), (6, '[2,5,1]'), (7, '[-1,4,2]'), (8, '[4,-2,3]'),
	(9, '[0,0,0]'), (10, NULL), (11, '[5,5,0]'), (12, '[-3,-1,-2]');

-- Index results against the exact order: same distances (to 6 decimals: the
-- index may compute them differently) in the same order, and the same rows
-- (rows with equal distances may come in any order).
CREATE FUNCTION hv_check(q vector, op text, k int DEFAULT 100,
	OUT same_distances bool, OUT same_rows bool, OUT n int)
LANGUAGE plpgsql AS $$
DECLARE
	ia numeric[]; ea numeric[]; ii int[]; ei int[];
BEGIN
	EXECUTE format('SELECT array_agg(round(d::numeric, 6)), array_agg(id ORDER BY id), count(*) FROM
		(SELECT id, v %s $1 AS d FROM hv ORDER BY v %s $1 LIMIT %s) s', op, op, k)
		INTO ia, ii, n USING q;
	EXECUTE format('SELECT array_agg(round(d::numeric, 6) ORDER BY d), array_agg(id ORDER BY id) FROM
		(SELECT id, v %s $1 AS d FROM hv WHERE v IS NOT NULL AND NOT (%L = %L AND v = %L)
		 ORDER BY (v %s $1) + 0 LIMIT %s) s', op, op, '<=>', '[0,0,0]'::vector, op, k)
		INTO ea, ei USING q;
	same_distances := ia IS NOT DISTINCT FROM ea;
	same_rows := ii IS NOT DISTINCT FROM ei;
END $$;

-- L2
CREATE INDEX hv_l2 ON hv USING hnsw (v vector_l2_ops);
INSERT INTO hv VALUES (13, '[2,2,2]'), (14, NULL), (15, '[1,1,0]');
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <-> '[1,2,2]' LIMIT 5;
SELECT id, v, round(d::numeric, 4) AS dist FROM
	(SELECT id, v, v <-> '[1,2,2]' AS d FROM hv ORDER BY v <-> '[1,2,2]' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hv_check('[1,2,2]', '<->');
SELECT * FROM hv_check('[-2,1,7]', '<->', 5);
-- the query value equal to an indexed value comes first
SELECT id FROM hv ORDER BY v <-> '[4,-2,3]' LIMIT 1;
-- wrong query dimension
SELECT id FROM hv ORDER BY v <-> '[1,2]' LIMIT 5;
-- a NULL query value (not folded to a constant) scans the index and
-- returns indexed rows in no particular order, as pgvector does
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <-> (SELECT NULL::vector) LIMIT 20;
SELECT count(*) FROM (SELECT id FROM hv ORDER BY v <-> (SELECT NULL::vector) LIMIT 20) s;
DROP INDEX hv_l2;

-- inner product
CREATE INDEX hv_ip ON hv USING hnsw (v vector_ip_ops);
INSERT INTO hv VALUES (16, '[0,3,3]');
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <#> '[1,2,2]' LIMIT 5;
SELECT id, v, round(d::numeric, 4) AS dist FROM
	(SELECT id, v, v <#> '[1,-2,3]' AS d FROM hv ORDER BY v <#> '[1,-2,3]' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hv_check('[1,-2,3]', '<#>');
SELECT * FROM hv_check('[-1,0.5,0.25]', '<#>', 5);
DROP INDEX hv_ip;

-- cosine: zero vectors are not indexed
CREATE INDEX hv_cos ON hv USING hnsw (v vector_cosine_ops);
INSERT INTO hv VALUES (17, '[0,0,0]'), (18, '[-5,-4,1]');
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <=> '[1,2,2]' LIMIT 5;
SELECT id, v, round(d::numeric, 4) AS dist FROM
	(SELECT id, v, v <=> '[1,2,2]' AS d FROM hv ORDER BY v <=> '[1,2,2]' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hv_check('[1,2,2]', '<=>');
SELECT * FROM hv_check('[3,-1,0.5]', '<=>', 6);
-- a zero query vector or a NULL query: the scan returns indexed rows in no
-- particular order, as pgvector does (never the zero vectors 9 and 17)
SELECT count(*), count(*) FILTER (WHERE id IN (9, 17)) AS zeros
FROM (SELECT id FROM hv ORDER BY v <=> '[0,0,0]' LIMIT 50) s;
SELECT count(*), count(*) FILTER (WHERE id IN (9, 17)) AS zeros
FROM (SELECT id FROM hv ORDER BY v <=> (SELECT NULL::vector) LIMIT 50) s;
DROP INDEX hv_cos;

-- L1
CREATE INDEX hv_l1 ON hv USING hnsw (v vector_l1_ops);
INSERT INTO hv VALUES (19, '[7,1,-1]');
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <+> '[1,2,2]' LIMIT 5;
SELECT id, v, round(d::numeric, 4) AS dist FROM
	(SELECT id, v, v <+> '[0.5,2.25,1]' AS d FROM hv ORDER BY v <+> '[0.5,2.25,1]' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hv_check('[0.5,2.25,1]', '<+>');
SELECT * FROM hv_check('[5.9,0.3,-0.2]', '<+>', 2);
DROP INDEX hv_l1;

-- no index scan without LIMIT, for a descending order or an expression
CREATE INDEX hv_l2 ON hv USING hnsw (v vector_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <-> '[1,2,2]';
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <-> '[1,2,2]' DESC LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY (v <-> '[1,2,2]') + 1 LIMIT 5;
-- an operator of another opclass does not use it
EXPLAIN (COSTS OFF) SELECT id FROM hv ORDER BY v <#> '[1,2,2]' LIMIT 5;

-- deletes, VACUUM, then inserts reusing the space
DELETE FROM hv WHERE id IN (4, 5, 13, 15);
SELECT * FROM hv_check('[1,2,2]', '<->');
VACUUM hv;
SELECT * FROM hv_check('[1,2,2]', '<->');
SELECT id FROM hv ORDER BY v <-> '[1,2,2.1]' LIMIT 5;
INSERT INTO hv VALUES (20, '[1,2,2.5]'), (21, '[1,1.5,2]');
SELECT * FROM hv_check('[1,2,2]', '<->');
SELECT id FROM hv ORDER BY v <-> '[1,2,2.1]' LIMIT 5;
-- delete everything: the scan finds nothing, then the index works again
DELETE FROM hv;
VACUUM hv;
SELECT count(*) FROM (SELECT id FROM hv ORDER BY v <-> '[1,2,2]' LIMIT 5) s;
INSERT INTO hv VALUES (1, '[1,1,1]'), (2, '[2,2,2]'), (3, NULL);
SELECT id FROM hv ORDER BY v <-> '[0,0,0]' LIMIT 5;
DROP TABLE hv;
DROP FUNCTION hv_check;

-- empty table, then inserts into the empty index
CREATE TABLE he (id int, v vector(2));
CREATE INDEX ON he USING hnsw (v vector_l2_ops);
SELECT id FROM he ORDER BY v <-> '[0,0]' LIMIT 3;
INSERT INTO he VALUES (1, NULL);
SELECT id FROM he ORDER BY v <-> '[0,0]' LIMIT 3;
INSERT INTO he VALUES (2, '[3,4]'), (3, '[1,1]'), (4, '[0,2]');
SELECT id FROM he ORDER BY v <-> '[0,0]' LIMIT 3;
-- TRUNCATE empties the index
TRUNCATE he;
SELECT id FROM he ORDER BY v <-> '[0,0]' LIMIT 3;
INSERT INTO he VALUES (5, '[1,0]');
SELECT id FROM he ORDER BY v <-> '[0,0]' LIMIT 3;
DROP TABLE he;

-- duplicates: every row of a repeated value comes back
CREATE TABLE hd (id int, v vector(2));
INSERT INTO hd SELECT i, '[1,1]' FROM generate_series(1, 20) i;
INSERT INTO hd SELECT i, ARRAY[i, -i]::vector FROM generate_series(21, 25) i;
CREATE INDEX ON hd USING hnsw (v vector_l2_ops);
INSERT INTO hd SELECT i, '[1,1]' FROM generate_series(26, 35) i;
SELECT count(*), count(DISTINCT id), min(id), max(id)
FROM (SELECT id, v FROM hd ORDER BY v <-> '[1,1]' LIMIT 30) s WHERE v = '[1,1]';
SELECT array_agg(id) FROM (SELECT id FROM hd ORDER BY v <-> '[1,1]' LIMIT 40) s WHERE id > 20 AND id <= 25;
DELETE FROM hd WHERE id % 2 = 0 AND id <= 20;
VACUUM hd;
SELECT count(*), min(id), max(id) FROM (SELECT id, v FROM hd ORDER BY v <-> '[1,1]' LIMIT 40) s WHERE v = '[1,1]';
DROP TABLE hd;

-- A larger deterministic table: approximate search, so assert recall.
-- prand: a deterministic pseudo-random number in [-0.5, 0.5)
CREATE FUNCTION prand(i int, j int) RETURNS float8 IMMUTABLE STRICT LANGUAGE sql AS
$$ SELECT x - floor(x) - 0.5 FROM (SELECT sin(i * 12.9898 + j * 78.233) * 43758.5453 AS x) s $$;
CREATE TABLE hb (id int, v vector(16));
INSERT INTO hb SELECT i, ARRAY(SELECT prand(i, j) FROM generate_series(1, 16) j)::vector
FROM generate_series(1, 2000) i;
CREATE INDEX hb_l2 ON hb USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);
CREATE INDEX hb_cos ON hb USING hnsw (v vector_cosine_ops);
CREATE INDEX hb_ip ON hb USING hnsw (v vector_ip_ops);
CREATE INDEX hb_l1 ON hb USING hnsw (v vector_l1_ops);
INSERT INTO hb SELECT i, ARRAY(SELECT prand(i, j) FROM generate_series(1, 16) j)::vector
FROM generate_series(2001, 2200) i;
CREATE TABLE hq (qid int, q vector(16));
INSERT INTO hq SELECT i, ARRAY(SELECT prand(-i, j) FROM generate_series(1, 16) j)::vector
FROM generate_series(1, 10) i;
-- recall@10 over 10 queries for each operator (exact: 100 rows)
SELECT op, sum(hits) >= 90 AS recall_ok, min(hits) >= 7 AS worst_ok
FROM (
	SELECT '<->' AS op, qid, (SELECT count(*) FROM
		(SELECT id FROM hb ORDER BY v <-> q LIMIT 10) a JOIN
		(SELECT id FROM hb ORDER BY (v <-> q) + 0 LIMIT 10) e USING (id)) AS hits FROM hq
	UNION ALL
	SELECT '<=>', qid, (SELECT count(*) FROM
		(SELECT id FROM hb ORDER BY v <=> q LIMIT 10) a JOIN
		(SELECT id FROM hb ORDER BY (v <=> q) + 0 LIMIT 10) e USING (id)) FROM hq
	UNION ALL
	SELECT '<#>', qid, (SELECT count(*) FROM
		(SELECT id FROM hb ORDER BY v <#> q LIMIT 10) a JOIN
		(SELECT id FROM hb ORDER BY (v <#> q) + 0 LIMIT 10) e USING (id)) FROM hq
	UNION ALL
	SELECT '<+>', qid, (SELECT count(*) FROM
		(SELECT id FROM hb ORDER BY v <+> q LIMIT 10) a JOIN
		(SELECT id FROM hb ORDER BY (v <+> q) + 0 LIMIT 10) e USING (id)) FROM hq
) s GROUP BY op ORDER BY op;
-- index results always come in non-decreasing distance order
SELECT bool_and(ok) FROM (
	SELECT d >= lag(d) OVER (PARTITION BY qid ORDER BY rn) IS NOT FALSE AS ok
	FROM (SELECT qid, s.d, s.rn FROM hq, LATERAL (SELECT v <-> q AS d, row_number() OVER () AS rn
		FROM (SELECT v FROM hb ORDER BY v <-> q LIMIT 30) x) s) t) u;
DROP INDEX hb_cos, hb_ip, hb_l1;

-- hnsw.ef_search bounds the result count without an iterative scan
SHOW hnsw.ef_search;
SHOW hnsw.iterative_scan;
SHOW hnsw.max_scan_tuples;
SHOW hnsw.scan_mem_multiplier;
SET hnsw.ef_search = 10;
SELECT count(*) FROM (SELECT id FROM hb ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 50) s;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM hb ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 50) s;
-- relaxed order still finds most of the exact top 50
SELECT count(*) >= 40 FROM
	(SELECT id FROM hb ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 50) a JOIN
	(SELECT id FROM hb ORDER BY (v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]') + 0 LIMIT 50) e USING (id);
SET hnsw.iterative_scan = strict_order;
SELECT count(*) >= 40, count(DISTINCT id) = count(*) FROM
	(SELECT id FROM hb ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 50) s;
-- strict order: distances never decrease
SELECT bool_and(d >= prev) FROM (
	SELECT d, lag(d) OVER (ORDER BY rn) AS prev FROM (
		SELECT v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' AS d, row_number() OVER () AS rn
		FROM (SELECT v FROM hb ORDER BY v <-> '[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]' LIMIT 200) x) s) t
WHERE prev IS NOT NULL;
-- a selective filter: the iterative scan keeps going until LIMIT is met
SET hnsw.iterative_scan = off;
EXPLAIN (COSTS OFF) SELECT id FROM hb WHERE id % 20 = 0 ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 20;
SELECT count(*) < 20 FROM (SELECT id FROM hb WHERE id % 20 = 0 ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 20) s;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*), bool_and(id % 20 = 0) FROM (SELECT id FROM hb WHERE id % 20 = 0 ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 20) s;
SELECT count(*) >= 16 FROM
	(SELECT id FROM hb WHERE id % 20 = 0 ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 20) a JOIN
	(SELECT id FROM hb WHERE id % 20 = 0 ORDER BY (v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]') + 0 LIMIT 20) e USING (id);
SET hnsw.iterative_scan = strict_order;
SELECT count(*) FROM (SELECT id FROM hb WHERE id % 20 = 0 ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 20) s;
-- hnsw.max_scan_tuples stops the iterative scan early
SET hnsw.iterative_scan = relaxed_order;
SET hnsw.max_scan_tuples = 1;
SELECT count(*) < 20 FROM (SELECT id FROM hb WHERE id % 20 = 0 ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 20) s;
SELECT count(*) >= 10 AND count(*) < 500 FROM (SELECT id FROM hb ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 500) s;
RESET hnsw.max_scan_tuples;
-- a large LIMIT with iterative scan: the whole table comes back
SELECT count(*), count(DISTINCT id) FROM (SELECT id FROM hb ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 3000) s;
RESET hnsw.iterative_scan;
RESET hnsw.ef_search;
-- SET LOCAL applies to the transaction only
BEGIN;
SET LOCAL hnsw.ef_search = 5;
SHOW hnsw.ef_search;
SELECT count(*) FROM (SELECT id FROM hb ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 50) s;
COMMIT;
SHOW hnsw.ef_search;
SELECT count(*) FROM (SELECT id FROM hb ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 50) s;
-- bigger ef_search, bigger result
SET hnsw.ef_search = 100;
SELECT count(*) FROM (SELECT id FROM hb ORDER BY v <-> '[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]' LIMIT 150) s;
RESET hnsw.ef_search;
DROP TABLE hb, hq;
DROP FUNCTION prand;

-- unlogged table
CREATE UNLOGGED TABLE hu (id int, v vector(3));
INSERT INTO hu SELECT i, ARRAY[i, i % 7, i % 3]::vector FROM generate_series(1, 30) i;
CREATE INDEX hu_idx ON hu USING hnsw (v vector_l2_ops);
SELECT relpersistence FROM pg_class WHERE relname = 'hu_idx';
INSERT INTO hu VALUES (31, '[10.5,3,1]');
SELECT id FROM hu ORDER BY v <-> '[10.2,3.1,1]' LIMIT 3;
-- REINDEX rebuilds it with the same results
REINDEX INDEX hu_idx;
SELECT id FROM hu ORDER BY v <-> '[10.2,3.1,1]' LIMIT 3;
REINDEX TABLE hu;
SELECT id FROM hu ORDER BY v <-> '[10.2,3.1,1]' LIMIT 3;
DROP TABLE hu;

-- expression index on a subvector cast, as in the pgvector README
CREATE TABLE hx (id int, v vector(4));
INSERT INTO hx SELECT i, ARRAY[i, 10 - i, i * i, 1]::vector FROM generate_series(1, 10) i;
CREATE INDEX ON hx USING hnsw ((subvector(v, 1, 2)::vector(2)) vector_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM hx ORDER BY subvector(v, 1, 2)::vector(2) <-> '[3,7]' LIMIT 3;
SELECT id FROM hx ORDER BY subvector(v, 1, 2)::vector(2) <-> '[3.2,7]' LIMIT 3;
DROP TABLE hx;
