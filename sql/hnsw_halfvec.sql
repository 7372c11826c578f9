-- hnsw index on halfvec: every opclass, inserts after the build, NULLs,
-- zero vectors, deletes with VACUUM and recall on a larger table.
SET enable_seqscan = off;

CREATE TABLE hh (id int, v halfvec(3));
INSERT INTO hh VALUES
	(1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]'), (4, '[1,2,3]'),
	(5, '[3,2,1]'), (6, '[2,5,1]'), (7, '[-1,4,2]'), (8, '[4,-2,3]'),
	(9, '[0,0,0]'), (10, NULL), (11, '[5,5,0]'), (12, '[-3,-1,-2]');

-- Index results against the exact order: same distances (to 4 decimals) in
-- the same order, and the same rows (equal distances may come in any order).
CREATE FUNCTION hh_check(q halfvec, op text, k int DEFAULT 100,
	OUT same_distances bool, OUT same_rows bool, OUT n int)
LANGUAGE plpgsql AS $$
DECLARE
	ia numeric[]; ea numeric[]; ii int[]; ei int[];
BEGIN
	EXECUTE format('SELECT array_agg(round(d::numeric, 4)), array_agg(id ORDER BY id), count(*) FROM
		(SELECT id, v %s $1 AS d FROM hh ORDER BY v %s $1 LIMIT %s) s', op, op, k)
		INTO ia, ii, n USING q;
	EXECUTE format('SELECT array_agg(round(d::numeric, 4) ORDER BY d), array_agg(id ORDER BY id) FROM
		(SELECT id, v %s $1 AS d FROM hh WHERE v IS NOT NULL AND NOT (%L = %L AND l2_norm(v) = 0)
		 ORDER BY (v %s $1) + 0 LIMIT %s) s', op, op, '<=>', op, k)
		INTO ea, ei USING q;
	same_distances := ia IS NOT DISTINCT FROM ea;
	same_rows := ii IS NOT DISTINCT FROM ei;
END $$;

-- L2
CREATE INDEX hh_idx ON hh USING hnsw (v halfvec_l2_ops);
INSERT INTO hh VALUES (13, '[2,2,2]'), (14, NULL), (15, '[1.5,1,0]');
EXPLAIN (COSTS OFF) SELECT id FROM hh ORDER BY v <-> '[1,2,2]' LIMIT 5;
SELECT id, v, round(d::numeric, 4) AS dist FROM
	(SELECT id, v, v <-> '[1,2,2]' AS d FROM hh ORDER BY v <-> '[1,2,2]' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hh_check('[1,2,2]', '<->');
SELECT * FROM hh_check('[-2,1,7]', '<->', 5);
SELECT id FROM hh ORDER BY v <-> '[1,2]' LIMIT 5;
SELECT count(*) FROM (SELECT id FROM hh ORDER BY v <-> (SELECT NULL::halfvec) LIMIT 20) s;
DROP INDEX hh_idx;

-- inner product
CREATE INDEX hh_idx ON hh USING hnsw (v halfvec_ip_ops);
INSERT INTO hh VALUES (16, '[0,3,3.5]');
EXPLAIN (COSTS OFF) SELECT id FROM hh ORDER BY v <#> '[1,2,2]' LIMIT 5;
SELECT id, v, round(d::numeric, 4) AS dist FROM
	(SELECT id, v, v <#> '[1,-2,3]' AS d FROM hh ORDER BY v <#> '[1,-2,3]' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hh_check('[1,-2,3]', '<#>');
SELECT * FROM hh_check('[-1,0.5,0.25]', '<#>', 5);
DROP INDEX hh_idx;

-- cosine: zero vectors are not indexed
CREATE INDEX hh_idx ON hh USING hnsw (v halfvec_cosine_ops);
INSERT INTO hh VALUES (17, '[0,0,0]'), (18, '[-5,-4,1]');
EXPLAIN (COSTS OFF) SELECT id FROM hh ORDER BY v <=> '[1,2,2]' LIMIT 5;
SELECT id, v, round(d::numeric, 4) AS dist FROM
	(SELECT id, v, v <=> '[1,2,2]' AS d FROM hh ORDER BY v <=> '[1,2,2]' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hh_check('[1,2,2]', '<=>');
SELECT * FROM hh_check('[3,-1,0.5]', '<=>', 6);
SELECT count(*) FILTER (WHERE id IN (9, 17)) AS zeros
FROM (SELECT id FROM hh ORDER BY v <=> '[1,1,1]' LIMIT 50) s;
DROP INDEX hh_idx;

-- L1
CREATE INDEX hh_idx ON hh USING hnsw (v halfvec_l1_ops);
INSERT INTO hh VALUES (19, '[7,1,-1]');
EXPLAIN (COSTS OFF) SELECT id FROM hh ORDER BY v <+> '[1,2,2]' LIMIT 5;
SELECT id, v, round(d::numeric, 4) AS dist FROM
	(SELECT id, v, v <+> '[0.5,2.25,1]' AS d FROM hh ORDER BY v <+> '[0.5,2.25,1]' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hh_check('[0.5,2.25,1]', '<+>');
SELECT * FROM hh_check('[5.9,0.3,-0.2]', '<+>', 3);

-- deletes, VACUUM, inserts
DELETE FROM hh WHERE id IN (4, 5, 13, 15);
VACUUM hh;
SELECT * FROM hh_check('[0.5,2.25,1]', '<+>');
INSERT INTO hh VALUES (20, '[1,2,2.5]'), (21, '[1,1.5,2]');
SELECT * FROM hh_check('[0.5,2.25,1]', '<+>');
SELECT id FROM hh ORDER BY v <+> '[1,2,2.25]' LIMIT 3;
DROP TABLE hh;
DROP FUNCTION hh_check;

-- an expression index: halfvec over a vector column
CREATE TABLE hx (id int, v vector(3));
INSERT INTO hx SELECT i, ARRAY[i, i % 4, 1]::vector FROM generate_series(1, 20) i;
CREATE INDEX ON hx USING hnsw ((v::halfvec(3)) halfvec_l2_ops);
EXPLAIN (COSTS OFF) SELECT id FROM hx ORDER BY v::halfvec(3) <-> '[5,1,1]' LIMIT 3;
SELECT id FROM hx ORDER BY v::halfvec(3) <-> '[5.2,1,1]' LIMIT 3;
DROP TABLE hx;

-- recall on a larger deterministic table
CREATE FUNCTION prand(i int, j int) RETURNS float8 IMMUTABLE STRICT LANGUAGE sql AS
$$ SELECT x - floor(x) - 0.5 FROM (SELECT sin(i * 12.9898 + j * 78.233) * 43758.5453 AS x) s $$;
CREATE TABLE hb (id int, v halfvec(24));
INSERT INTO hb SELECT i, ARRAY(SELECT prand(i, j) FROM generate_series(1, 24) j)::halfvec
FROM generate_series(1, 1000) i;
CREATE INDEX hb_l2 ON hb USING hnsw (v halfvec_l2_ops);
CREATE INDEX hb_cos ON hb USING hnsw (v halfvec_cosine_ops);
INSERT INTO hb SELECT i, ARRAY(SELECT prand(i, j) FROM generate_series(1, 24) j)::halfvec
FROM generate_series(1001, 1200) i;
CREATE TABLE hq (qid int, q halfvec(24));
INSERT INTO hq SELECT i, ARRAY(SELECT prand(-i, j) FROM generate_series(1, 24) j)::halfvec
FROM generate_series(1, 10) i;
SELECT op, sum(hits) >= 90 AS recall_ok, min(hits) >= 7 AS worst_ok
FROM (
	SELECT '<->' AS op, qid, (SELECT count(*) FROM
		(SELECT id FROM hb ORDER BY v <-> q LIMIT 10) a JOIN
		(SELECT id FROM hb ORDER BY (v <-> q) + 0 LIMIT 10) e USING (id)) AS hits FROM hq
	UNION ALL
	SELECT '<=>', qid, (SELECT count(*) FROM
		(SELECT id FROM hb ORDER BY v <=> q LIMIT 10) a JOIN
		(SELECT id FROM hb ORDER BY (v <=> q) + 0 LIMIT 10) e USING (id)) FROM hq
) s GROUP BY op ORDER BY op;
-- iterative scan
SET hnsw.ef_search = 10;
SELECT count(*) FROM (SELECT id FROM hb ORDER BY v <-> (SELECT q FROM hq WHERE qid = 1) LIMIT 50) s;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM hb ORDER BY v <-> (SELECT q FROM hq WHERE qid = 1) LIMIT 50) s;
RESET hnsw.iterative_scan;
RESET hnsw.ef_search;
DROP TABLE hb, hq;
DROP FUNCTION prand;
