-- hnsw index on bit: hamming and jaccard opclasses, inserts after the
-- build, NULLs, duplicates, deletes with VACUUM, limits and recall.
SET enable_seqscan = off;

CREATE TABLE hbt (id int, v bit(8));
INSERT INTO hbt VALUES
	(1, B'00000001'), (2, B'00000011'), (3, B'00000111'), (4, B'11110000'),
	(5, B'10101010'), (6, B'01010101'), (7, B'11111111'), (8, B'10000001'),
	(9, B'00000000'), (10, NULL), (11, B'11001100'), (12, B'00110011');

-- Index results against the exact order (see hnsw_vector)
CREATE FUNCTION hbt_check(q bit, op text, k int DEFAULT 100,
	OUT same_distances bool, OUT same_rows bool, OUT n int)
LANGUAGE plpgsql AS $$
DECLARE
	ia numeric[]; ea numeric[]; ii int[]; ei int[];
BEGIN
	EXECUTE format('SELECT array_agg(round(d::numeric, 6)), array_agg(id ORDER BY id), count(*) FROM
		(SELECT id, v %s $1 AS d FROM hbt ORDER BY v %s $1 LIMIT %s) s', op, op, k)
		INTO ia, ii, n USING q;
	EXECUTE format('SELECT array_agg(round(d::numeric, 6) ORDER BY d), array_agg(id ORDER BY id) FROM
		(SELECT id, v %s $1 AS d FROM hbt WHERE v IS NOT NULL
		 ORDER BY (v %s $1) + 0 LIMIT %s) s', op, op, k)
		INTO ea, ei USING q;
	same_distances := ia IS NOT DISTINCT FROM ea;
	same_rows := ii IS NOT DISTINCT FROM ei;
END $$;

-- hamming
CREATE INDEX hbt_idx ON hbt USING hnsw (v bit_hamming_ops);
INSERT INTO hbt VALUES (13, B'11100000'), (14, NULL), (15, B'01111110');
EXPLAIN (COSTS OFF) SELECT id FROM hbt ORDER BY v <~> B'11100001' LIMIT 5;
SELECT id, v, d FROM
	(SELECT id, v, v <~> B'11100001' AS d FROM hbt ORDER BY v <~> B'11100001' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hbt_check(B'11100001', '<~>');
SELECT * FROM hbt_check(B'00000111', '<~>', 3);
SELECT id FROM hbt ORDER BY v <~> B'1110' LIMIT 5;
SELECT count(*) FROM (SELECT id FROM hbt ORDER BY v <~> (SELECT NULL::bit(8)) LIMIT 20) s;
-- deletes, VACUUM, inserts
DELETE FROM hbt WHERE id IN (4, 5, 13);
VACUUM hbt;
SELECT * FROM hbt_check(B'11100001', '<~>');
INSERT INTO hbt VALUES (16, B'11100011');
SELECT * FROM hbt_check(B'11100001', '<~>');
SELECT id FROM hbt ORDER BY v <~> B'11100001' LIMIT 1;
DROP INDEX hbt_idx;

-- jaccard
CREATE INDEX hbt_idx ON hbt USING hnsw (v bit_jaccard_ops);
INSERT INTO hbt VALUES (17, B'11110001');
EXPLAIN (COSTS OFF) SELECT id FROM hbt ORDER BY v <%> B'11100001' LIMIT 5;
SELECT id, v, round(d::numeric, 4) AS dist FROM
	(SELECT id, v, v <%> B'11100001' AS d FROM hbt ORDER BY v <%> B'11100001' LIMIT 20) s
ORDER BY d, id;
SELECT * FROM hbt_check(B'11100001', '<%>');
SELECT * FROM hbt_check(B'00111000', '<%>', 3);
SELECT id FROM hbt ORDER BY v <%> B'111' LIMIT 5;
DROP TABLE hbt;
DROP FUNCTION hbt_check;

-- duplicates
CREATE TABLE hd (id int, v bit(4));
INSERT INTO hd SELECT i, B'1010' FROM generate_series(1, 15) i;
CREATE INDEX ON hd USING hnsw (v bit_hamming_ops);
INSERT INTO hd SELECT i, B'1010' FROM generate_series(16, 25) i;
INSERT INTO hd VALUES (26, B'0101');
SELECT count(*), count(DISTINCT id) FROM (SELECT id, v FROM hd ORDER BY v <~> B'1010' LIMIT 30) s WHERE v = B'1010';
DROP TABLE hd;

-- limits
CREATE TABLE hl (v varbit);
CREATE INDEX ON hl USING hnsw (v bit_hamming_ops);
DROP TABLE hl;
CREATE TABLE hl (v bit(64000));
CREATE INDEX ON hl USING hnsw (v bit_hamming_ops);
DROP TABLE hl;
CREATE TABLE hl (v bit(64001));
CREATE INDEX ON hl USING hnsw (v bit_hamming_ops);
CREATE INDEX ON hl USING hnsw (v bit_jaccard_ops);
DROP TABLE hl;

-- recall on a larger deterministic table
CREATE FUNCTION prand(i int, j int) RETURNS float8 IMMUTABLE STRICT LANGUAGE sql AS
$$ SELECT x - floor(x) - 0.5 FROM (SELECT sin(i * 12.9898 + j * 78.233) * 43758.5453 AS x) s $$;
CREATE FUNCTION pbits(i int) RETURNS bit(64) IMMUTABLE STRICT LANGUAGE sql AS
$$ SELECT string_agg(CASE WHEN prand(i, j) > 0 THEN '1' ELSE '0' END, '' ORDER BY j)::bit(64)
	FROM generate_series(1, 64) j $$;
CREATE TABLE hb (id int, v bit(64));
INSERT INTO hb SELECT i, pbits(i) FROM generate_series(1, 1000) i;
CREATE INDEX hb_ham ON hb USING hnsw (v bit_hamming_ops);
CREATE INDEX hb_jac ON hb USING hnsw (v bit_jaccard_ops);
INSERT INTO hb SELECT i, pbits(i) FROM generate_series(1001, 1200) i;
CREATE TABLE hq (qid int, q bit(64));
INSERT INTO hq SELECT i, pbits(-i) FROM generate_series(1, 10) i;
-- distances have many ties: count the index results that are no farther
-- than the exact 10th nearest
SELECT op, sum(hits) >= 90 AS recall_ok
FROM (
	SELECT '<~>' AS op, qid, (SELECT count(*) FROM
		(SELECT v <~> q AS d FROM hb ORDER BY v <~> q LIMIT 10) a
		WHERE d <= (SELECT max(d) FROM (SELECT (v <~> q) + 0 AS d FROM hb ORDER BY 1 LIMIT 10) e)) AS hits FROM hq
	UNION ALL
	SELECT '<%>', qid, (SELECT count(*) FROM
		(SELECT v <%> q AS d FROM hb ORDER BY v <%> q LIMIT 10) a
		WHERE d <= (SELECT max(d) FROM (SELECT (v <%> q) + 0 AS d FROM hb ORDER BY 1 LIMIT 10) e)) FROM hq
) s GROUP BY op ORDER BY op;
SET hnsw.ef_search = 10;
SELECT count(*) FROM (SELECT id FROM hb ORDER BY v <~> (SELECT q FROM hq WHERE qid = 1) LIMIT 50) s;
SET hnsw.iterative_scan = strict_order;
SELECT count(*) FROM (SELECT id FROM hb ORDER BY v <~> (SELECT q FROM hq WHERE qid = 1) LIMIT 50) s;
RESET hnsw.iterative_scan;
RESET hnsw.ef_search;
DROP TABLE hb, hq;
DROP FUNCTION pbits, prand;
