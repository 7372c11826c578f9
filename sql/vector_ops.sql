-- Operators, functions and aggregates on the vector type.

-- distances
SELECT '[1,2]'::vector <-> '[3,4]', l2_distance('[1,2]'::vector, '[3,4]');
SELECT '[0,0]'::vector <-> '[3,4]', '[1,2,3]'::vector <-> '[1,2,3]';
SELECT vector_l2_squared_distance('[1,2]', '[3,4]'), vector_l2_squared_distance('[0,0]', '[3,4]');
SELECT '[1,2]'::vector <#> '[3,4]', inner_product('[1,2]'::vector, '[3,4]'), vector_negative_inner_product('[1,2]', '[3,4]');
SELECT '[1,2]'::vector <=> '[2,4]', cosine_distance('[1,2]'::vector, '[-2,-4]');
SELECT '[1,2]'::vector <=> '[0,0]', cosine_distance('[0,0]'::vector, '[1,1]');
SELECT '[1,1]'::vector <=> '[1,-1]';
SELECT '[1,2]'::vector <+> '[3,5]', l1_distance('[1,2]'::vector, '[-3,-5]');
SELECT vector_spherical_distance('[1,0]', '[0,1]'), vector_spherical_distance('[1,0]', '[-1,0]');
SELECT vector_spherical_distance('[1,0]', '[1,0]'), vector_spherical_distance('[2,0]', '[2,0]');
SELECT vector_spherical_distance('[2,0]', '[-2,0]');
SELECT l2_distance('[3e38]'::vector, '[-3e38]'), inner_product('[3e38]'::vector, '[3e38]');
-- operands are commutative
SELECT '[3,4]'::vector <-> '[1,2]', '[3,4]'::vector <#> '[1,2]', '[2,4]'::vector <=> '[1,2]', '[3,5]'::vector <+> '[1,2]';
-- longer vectors (crosses SIMD block boundaries)
SELECT round((v <-> w)::numeric, 4) AS l2, round((v <#> w)::numeric, 4) AS nip,
	round((v <=> w)::numeric, 6) AS cos, round((v <+> w)::numeric, 4) AS l1
FROM (SELECT array_agg(i * 0.5)::vector AS v, array_agg(100 - i)::vector AS w
	FROM generate_series(1, 37) i) t;
-- dimension mismatch
SELECT '[1,2,3]'::vector <-> '[1,2]';
SELECT '[1,2,3]'::vector <#> '[1,2]';
SELECT '[1,2,3]'::vector <=> '[1,2]';
SELECT '[1,2,3]'::vector <+> '[1,2]';
SELECT inner_product('[1,2]'::vector, '[1,2,3]');
SELECT vector_l2_squared_distance('[1,2]', '[1,2,3]');
SELECT vector_spherical_distance('[1,2]', '[1,2,3]');
SELECT l2_distance(NULL, '[1,2]'::vector);

-- dims, norm, normalize
SELECT vector_dims('[1,2,3]'::vector), vector_dims('[0]'::vector);
SELECT vector_norm('[3,4]'), vector_norm('[0,0]'), vector_norm('[1,1,1,1]');
SELECT vector_norm('[3e38,3e38]');
SELECT l2_normalize('[3,4]'::vector), l2_normalize('[3,0]'::vector), l2_normalize('[0,0,0]'::vector);
SELECT l2_normalize('[1e-45]'::vector), l2_normalize('[3e38,3e38]'::vector);
SELECT vector_norm(l2_normalize('[1,2,3,4,5]'::vector));

-- subvector
SELECT subvector('[1,2,3,4,5]'::vector, 1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 3, 2);
SELECT subvector('[1,2,3,4,5]'::vector, 4, 10);
SELECT subvector('[1,2,3,4,5]'::vector, 0, 3);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 3);
SELECT subvector('[1,2,3,4,5]'::vector, 5, 1);
SELECT subvector('[1,2,3,4,5]'::vector, 2, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, -2147483648, 2147483647);
SELECT subvector('[1,2,3,4,5]'::vector, 6, 1);
SELECT subvector('[1,2,3,4,5]'::vector, -1, 2);
SELECT subvector('[1,2,3,4,5]'::vector, 1, 0);
SELECT subvector('[1,2,3,4,5]'::vector, 1, -1);
SELECT subvector('[1,2,3,4,5]'::vector, 2147483647, 1);

-- binary quantization
SELECT binary_quantize('[1,0,-1,0.5,2,-0.1,3,4,5]'::vector);
SELECT binary_quantize('[0]'::vector), binary_quantize('[1e-45]'::vector), binary_quantize('[-0]'::vector);
SELECT binary_quantize('[1,2,3,4,5,6,7,8]'::vector), length(binary_quantize('[1,2,3,4,5,6,7,8]'::vector));

-- arithmetic
SELECT '[1,2,3]'::vector + '[4,5,6]', '[1,2,3]'::vector - '[4,5,6]', '[1,2,3]'::vector * '[4,5,6]';
SELECT vector_add('[1]', '[2]'), vector_sub('[1]', '[2]'), vector_mul('[1.5]', '[2]');
SELECT '[3e38]'::vector + '[3e38]';
SELECT '[-3e38]'::vector - '[3e38]';
SELECT '[1e20]'::vector * '[1e20]';
SELECT '[1e-30]'::vector * '[1e-30]';
SELECT '[0,1e-30]'::vector * '[1e-30,0]';
SELECT '[1,2]'::vector + '[1,2,3]';
SELECT '[1,2]'::vector - '[1,2,3]';
SELECT '[1,2]'::vector * '[1,2,3]';

-- concatenation
SELECT '[1,2]'::vector || '[3]', vector_concat('[1]', '[2,3,4]');
SELECT vector_dims(array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8000])::vector);
SELECT array_fill(1, ARRAY[8000])::vector || array_fill(2, ARRAY[8001])::vector;

-- comparisons
SELECT '[1,2,3]'::vector < '[1,2,4]', '[1,2,3]'::vector <= '[1,2,3]', '[1,2,3]'::vector = '[1,2,3]';
SELECT '[1,2,3]'::vector <> '[1,2,3]', '[1,2,3]'::vector >= '[1,2,4]', '[1,2,3]'::vector > '[1,2]';
SELECT '[1,2]'::vector < '[1,2,3]', '[2]'::vector > '[1,2,3]', '[0]'::vector = '[-0]';
SELECT vector_lt('[1]', '[2]'), vector_le('[2]', '[1]'), vector_eq('[1]', '[1,0]'),
	vector_ne('[1]', '[1,0]'), vector_ge('[1,0]', '[1]'), vector_gt('[1]', '[1]');
SELECT vector_cmp('[1,2]', '[1,3]'), vector_cmp('[1,2]', '[1,2]'), vector_cmp('[1,3]', '[1,2]'),
	vector_cmp('[1]', '[1,2]'), vector_cmp('[1,2]', '[1]');

-- btree ordering, index, distinct, grouping
CREATE TABLE vo (id int, v vector);
INSERT INTO vo VALUES (1, '[1,2,3]'), (2, '[1,2]'), (3, '[0,5]'), (4, '[1,2,3]'),
	(5, '[-1,9,9,9]'), (6, NULL), (7, '[1,2,2.5]');
SELECT id, v FROM vo ORDER BY v, id;
SELECT id, v FROM vo ORDER BY v DESC NULLS LAST, id;
SELECT DISTINCT v FROM vo ORDER BY v;
SELECT v, count(*) FROM vo GROUP BY v ORDER BY v;
CREATE INDEX vo_v_idx ON vo (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM vo WHERE v = '[1,2,3]';
SELECT id FROM vo WHERE v = '[1,2,3]' ORDER BY id;
SELECT id FROM vo WHERE v < '[1,2,3]' ORDER BY id;
RESET enable_seqscan;
SELECT count(*) FROM vo a JOIN vo b ON a.v = b.v;

-- nearest neighbours without an index
SELECT id, v FROM vo WHERE v IS NOT NULL AND vector_dims(v) = 3 ORDER BY v <-> '[1,2,2]', id;
SELECT id FROM vo WHERE vector_dims(v) = 2 ORDER BY v <#> '[1,1]', id;

-- aggregates
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::vector), ('[3,5,7]'), (NULL)) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::vector)) t(v);
SELECT avg(v), sum(v) FROM (VALUES ('[1,2,3]'::vector)) t(v) WHERE false;
SELECT avg(v), sum(v) FROM (VALUES (NULL::vector)) t(v);
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v);
SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v);
SELECT avg(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT avg(v) FROM (VALUES ('[1]'::vector), ('[2]'), ('[2]')) t(v);
SELECT id % 2 AS g, avg(v), sum(v) FROM (VALUES (1, '[1,1]'::vector), (2, '[2,4]'), (3, '[3,3]'), (4, '[4,8]')) t(id, v)
	GROUP BY g ORDER BY g;
SELECT id, avg(v) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
	sum(v) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
FROM (VALUES (1, '[1,1]'::vector), (2, '[2,4]'), (3, '[3,3]'), (4, '[4,8]')) t(id, v) ORDER BY id;
SELECT vector_accum('{0}', '[1,2]'), vector_accum('{1,1,2}', '[1,2]');
SELECT vector_accum('{1,1,2}', '[1,2,3]');
SELECT vector_combine('{0}', '{2,1,2}'), vector_combine('{2,1,2}', '{0}'), vector_combine('{1,1,2}', '{2,3,4}');
SELECT vector_combine('{1,1,2}', '{2,3,4,5}');
SELECT vector_avg('{2,2,4}'), vector_avg('{0}');
SELECT vector_accum('{{0}}', '[1]');

-- parallel aggregation uses the combine functions
CREATE TABLE vagg AS SELECT i, ARRAY[i % 7, i % 5, 1]::vector(3) AS v FROM generate_series(1, 20000) i;
ANALYZE vagg;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM vagg;
SELECT avg(v), sum(v) FROM vagg;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT avg(v), sum(v) FROM vagg;

-- catalog: every function of the vector type is immutable, strict and
-- parallel safe (schema mlops's ML functions that take vectors are not)
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid
WHERE e.extname = 'pgmlops' AND p.prokind = 'f'
	AND p.pronamespace <> 'mlops'::regnamespace
	AND (pg_get_function_arguments(p.oid) ~ '\mvector\M' OR p.prorettype = 'vector'::regtype)
	AND pg_get_function_arguments(p.oid) !~ '(halfvec|sparsevec)'
	AND (p.provolatile <> 'i' OR NOT p.proisstrict OR p.proparallel <> 's')
ORDER BY 1;
SELECT a.aggfnoid::regprocedure, p.proparallel, a.aggcombinefn
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE a.aggtranstype IN ('vector'::regtype, 'double precision[]'::regtype)
	AND p.proargtypes[0] = 'vector'::regtype
ORDER BY 1::text;

DROP TABLE vo, vagg;
