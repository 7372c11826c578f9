-- hnsw index on sparsevec: every opclass, inserts after the build, NULLs,
-- zero vectors, deletes with VACUUM, the non-zero limit and recall.
SET enable_seqscan = off;

CREATE TABLE hs (id int, v sparsevec(5));
INSERT INTO hs VALUES
	(1, '{1:1}/5'), (2, '{2:1}/5'), (3, '{3:1}/5'), (4, '{1:1,2:2,3:3}/5'),
	(5, '{1:3,2:2,3:1}/5'), (6, '{1:2,2:5,3:1,5:-1}/5'), (7, '{1:-1,2:4,3:2}/5'),
	(8, '{1:4,2:-2,3:3,4:1}/5'), (9, '{}/5'), (10, NULL), (11, '{1:5,2:5}/5'),
	(12, '{1:-3,2:-1,3:-2,4:-1,5:-1}/5');

-- Index results against the exact order (see hnsw_vector)
CREATE FUNCTION hs_check(q sparsevec, op text, k int DEFAULT 100,
	OUT same_distances bool, OUT same_rows bool, OUT n int)
LANGUAGE plpgsql AS $$
DECLARE
	ia numeric[]; ea numeric[]; ii int[]; ei int[];
BEGIN
	EXECUTE format('SELECT array_agg(round(d::numeric, 6)), array_agg(id ORDER BY id), count(*) FROM
		(SELECT id, v %s $1 AS d FROM hs ORDER BY v %s $1 LIMIT %s) s', op, op, k)
		INTO ia, ii, n USING q;
	EXECUTE format('SELECT array_agg(round(d::numeric, 6) ORDER BY d), array_agg(id ORDER BY id) FROM
		(SELECT id, v %s $1 AS d FROM hs WHERE v IS NOT NULL AND NOT (%L = %L AND l2_norm(v) = 0)
		 ORDER BY (v %s $1) + 0 LIMIT %s) s', op, op, '<=>', op, k)
		INTO ea, ei USING q;
	same_distances := ia IS NOT DISTINCT FROM ea;
	same_rows := ii IS NOT DISTINCT FROM ei;
END $$;

-- L2
CREATE INDEX hs_idx ON hs USING hnsw (v sparsevec_l2_ops);
INSERT INTO hs VALUES (13, '{1:2,2:2,3:2}/5'), (14, NULL), (15, '{1:1.5,2:1}/5');
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY v <-> '{1:1,2:2,3:2}/5' LIMIT 5;
SELECT id, v, round(d::numeric, 4) AS dist FROM
	(SELECT id, v, v <-> '{1:1,2:2,3:2}/5' AS d FROM hs ORDER BY v <-> '{1:1,2:2,3:2}/5' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hs_check('{1:1,2:2,3:2}/5', '<->');
SELECT * FROM hs_check('{1:-2,2:1,3:7,5:0.5}/5', '<->', 5);
SELECT id FROM hs ORDER BY v <-> '{1:1}/4' LIMIT 5;
SELECT count(*) FROM (SELECT id FROM hs ORDER BY v <-> (SELECT NULL::sparsevec) LIMIT 20) s;
DROP INDEX hs_idx;

-- inner product
CREATE INDEX hs_idx ON hs USING hnsw (v sparsevec_ip_ops);
INSERT INTO hs VALUES (16, '{2:3,3:3.5}/5');
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY v <#> '{1:1,2:2,3:2}/5' LIMIT 5;
SELECT * FROM hs_check('{1:1,2:-2,3:3,4:0.5}/5', '<#>');
SELECT * FROM hs_check('{1:-1,2:0.5,3:0.25}/5', '<#>', 3);
DROP INDEX hs_idx;

-- cosine: zero vectors are not indexed
CREATE INDEX hs_idx ON hs USING hnsw (v sparsevec_cosine_ops);
INSERT INTO hs VALUES (17, '{}/5'), (18, '{1:-5,2:-4,3:1}/5');
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY v <=> '{1:1,2:2,3:2}/5' LIMIT 5;
SELECT id, v, round(d::numeric, 4) AS dist FROM
	(SELECT id, v, v <=> '{1:1,2:2,3:2}/5' AS d FROM hs ORDER BY v <=> '{1:1,2:2,3:2}/5' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hs_check('{1:1,2:2,3:2}/5', '<=>');
SELECT * FROM hs_check('{1:3,2:-1,3:0.5,5:2}/5', '<=>', 6);
DROP INDEX hs_idx;

-- L1
CREATE INDEX hs_idx ON hs USING hnsw (v sparsevec_l1_ops);
INSERT INTO hs VALUES (19, '{1:7,2:1,3:-1}/5');
EXPLAIN (COSTS OFF) SELECT id FROM hs ORDER BY v <+> '{1:1,2:2,3:2}/5' LIMIT 5;
SELECT * FROM hs_check('{1:0.5,2:2.25,3:1}/5', '<+>');
SELECT * FROM hs_check('{1:5.9,2:0.3,3:-0.2}/5', '<+>', 3);

-- deletes, VACUUM, inserts
DELETE FROM hs WHERE id IN (4, 5, 13, 15);
VACUUM hs;
SELECT * FROM hs_check('{1:0.5,2:2.25,3:1}/5', '<+>');
INSERT INTO hs VALUES (20, '{1:1,2:2,3:2.5}/5'), (21, '{1:1,2:1.5,3:2}/5');
SELECT * FROM hs_check('{1:0.5,2:2.25,3:1}/5', '<+>');
SELECT id FROM hs ORDER BY v <+> '{1:1,2:2,3:2.25}/5' LIMIT 3;
DROP TABLE hs;
DROP FUNCTION hs_check;

-- a column without dimensions can be indexed; values must agree with the query
CREATE TABLE hn (id int, v sparsevec);
INSERT INTO hn VALUES (1, '{1:1}/3'), (2, '{2:1}/3'), (3, '{1:1,3:1}/3');
CREATE INDEX ON hn USING hnsw (v sparsevec_l2_ops);
SELECT id FROM hn ORDER BY v <-> '{1:1,3:0.8}/3' LIMIT 2;
DROP TABLE hn;

-- at most 1000 non-zero elements
CREATE TABLE hz (v sparsevec(2000));
INSERT INTO hz SELECT ('{' || string_agg(i || ':1', ',') || '}/2000')::sparsevec FROM generate_series(1, 1001) i;
CREATE INDEX ON hz USING hnsw (v sparsevec_l2_ops);
TRUNCATE hz;
CREATE INDEX hz_idx ON hz USING hnsw (v sparsevec_l2_ops);
INSERT INTO hz SELECT ('{' || string_agg(i || ':1', ',') || '}/2000')::sparsevec FROM generate_series(1, 1001) i;
INSERT INTO hz SELECT ('{' || string_agg(i || ':1', ',') || '}/2000')::sparsevec FROM generate_series(1, 1000) i;
SELECT count(*) FROM (SELECT v FROM hz ORDER BY v <-> '{1:1}/2000' LIMIT 5) s;
DROP TABLE hz;

-- recall on a larger deterministic table: 200 dimensions, 8 non-zero each
CREATE FUNCTION prand(i int, j int) RETURNS float8 IMMUTABLE STRICT LANGUAGE sql AS
$$ SELECT x - floor(x) - 0.5 FROM (SELECT sin(i * 12.9898 + j * 78.233) * 43758.5453 AS x) s $$;
CREATE FUNCTION psparse(i int) RETURNS sparsevec IMMUTABLE STRICT LANGUAGE sql AS
$$ SELECT ('{' || string_agg(k || ':' || round(prand(i, k)::numeric, 4), ',' ORDER BY k) || '}/200')::sparsevec
	FROM (SELECT DISTINCT 1 + floor((prand(i, -j) + 0.5) * 200)::int AS k FROM generate_series(1, 8) j) s $$;
CREATE TABLE hb (id int, v sparsevec(200));
INSERT INTO hb SELECT i, psparse(i) FROM generate_series(1, 1000) i;
CREATE INDEX hb_l2 ON hb USING hnsw (v sparsevec_l2_ops);
CREATE INDEX hb_ip ON hb USING hnsw (v sparsevec_ip_ops);
INSERT INTO hb SELECT i, psparse(i) FROM generate_series(1001, 1200) i;
CREATE TABLE hq (qid int, q sparsevec(200));
INSERT INTO hq SELECT i, psparse(-i) FROM generate_series(1, 10) i;
SELECT op, sum(hits) >= 85 AS recall_ok
FROM (
	SELECT '<->' AS op, qid, (SELECT count(*) FROM
		(SELECT id FROM hb ORDER BY v <-> q LIMIT 10) a JOIN
		(SELECT id FROM hb ORDER BY (v <-> q) + 0 LIMIT 10) e USING (id)) AS hits FROM hq
	UNION ALL
	SELECT '<#>', qid, (SELECT count(*) FROM
		(SELECT id FROM hb ORDER BY v <#> q LIMIT 10) a JOIN
		(SELECT id FROM hb ORDER BY (v <#> q) + 0 LIMIT 10) e USING (id)) FROM hq
) s GROUP BY op ORDER BY op;
SET hnsw.ef_search = 10;
SELECT count(*) FROM (SELECT id FROM hb ORDER BY v <-> (SELECT q FROM hq WHERE qid = 1) LIMIT 50) s;
SET hnsw.iterative_scan = relaxed_order;
SELECT count(*) FROM (SELECT id FROM hb ORDER BY v <-> (SELECT q FROM hq WHERE qid = 1) LIMIT 50) s;
RESET hnsw.iterative_scan;
RESET hnsw.ef_search;
DROP TABLE hb, hq;
DROP FUNCTION psparse, prand;
