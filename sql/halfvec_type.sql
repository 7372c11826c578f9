-- halfvec: text and binary I/O, type modifier, casts, functions, operators,
-- aggregates and the btree opclass.  Error texts match pgvector 0.8.

-- text input and output
SELECT '[1,2,3]'::halfvec;
SELECT '[-1,-2,-3]'::halfvec;
SELECT '[1.,2.,3.]'::halfvec;
SELECT ' [ 1,  2 ,    3  ] '::halfvec;
SELECT '[1.23456]'::halfvec;
SELECT '[0.1,-0.3333,1000.5]'::halfvec;
SELECT '[65519,-65519]'::halfvec;
SELECT '[6e-8,-6e-8]'::halfvec;
SELECT '[1e-8,-1e-8]'::halfvec;
SELECT '[1e-46,1]'::halfvec;
SELECT '[65520,-65520]'::halfvec;
SELECT '[-1e5,1]'::halfvec;
SELECT '[4e38,1]'::halfvec;
SELECT '[hello,1]'::halfvec;
SELECT '[NaN,1]'::halfvec;
SELECT '[Infinity,1]'::halfvec;
SELECT '[-Infinity,1]'::halfvec;
SELECT '[1,2,3'::halfvec;
SELECT '[1,2,3]9'::halfvec;
SELECT '1,2,3'::halfvec;
SELECT ''::halfvec;
SELECT '['::halfvec;
SELECT '[ '::halfvec;
SELECT '[,'::halfvec;
SELECT '[]'::halfvec;
SELECT '[ ]'::halfvec;
SELECT '[1,]'::halfvec;
SELECT '[1a]'::halfvec;
SELECT '[1,,3]'::halfvec;
SELECT '[1, ,3]'::halfvec;
SELECT unnest('{"[1,2,3]", "[4,5,6]"}'::halfvec[]);

-- dimension limits
SELECT vector_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::halfvec);
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::halfvec;

-- type modifier
SELECT '[1,2,3]'::halfvec(3);
SELECT '[1,2,3]'::halfvec(2);
SELECT '[1,2,3]'::halfvec(3, 2);
SELECT '[1,2,3]'::halfvec('a');
SELECT '[1,2,3]'::halfvec(0);
SELECT '[1,2,3]'::halfvec(16001);
SELECT '{"[1,2,3]"}'::halfvec(2)[];
CREATE TABLE hv_typmod (v halfvec(3));
INSERT INTO hv_typmod VALUES ('[1,2,3]');
INSERT INTO hv_typmod VALUES ('[1,2]');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'hv_typmod'::regclass AND attname = 'v';
DROP TABLE hv_typmod;

-- storage: 2 * dim + 8 bytes, external
SELECT pg_column_size('[1,2,3]'::halfvec);
SELECT typstorage, typlen FROM pg_type WHERE typname = 'halfvec';

-- binary output: int16 dim, int16 unused, big-endian binary16 elements
SELECT halfvec_send('[1,2,-0.5]');
SELECT halfvec_send('[65504,6e-8,-0]');

-- binary round trip through COPY
SELECT current_setting('data_directory') || '/pgmlops_halfvec_type.bin' AS binfile \gset
CREATE TABLE hv_src (id int, v halfvec);
INSERT INTO hv_src VALUES (1, '[1,2,3]'), (2, '[-0,65504,-65504]'), (3, '[6e-8,0.1,1.234]'), (4, NULL);
COPY hv_src TO :'binfile' WITH (FORMAT binary);
CREATE TABLE hv_dst (id int, v halfvec(3));
COPY hv_dst FROM :'binfile' WITH (FORMAT binary);
SELECT s.id, s.v, d.v, s.v::text = d.v::text AS same FROM hv_src s JOIN hv_dst d USING (id) ORDER BY id;

-- binary input errors: each bytea below is fed to halfvec_recv by COPY
CREATE TABLE hv_raw (b bytea);
CREATE TABLE hv_one (v halfvec);
INSERT INTO hv_raw VALUES ('\x000200003c004000');
COPY hv_raw TO :'binfile' WITH (FORMAT binary);
COPY hv_one FROM :'binfile' WITH (FORMAT binary);
SELECT v FROM hv_one;
TRUNCATE hv_raw;
INSERT INTO hv_raw VALUES ('\x00000000');
COPY hv_raw TO :'binfile' WITH (FORMAT binary);
COPY hv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE hv_raw;
INSERT INTO hv_raw VALUES ('\xffff0000');
COPY hv_raw TO :'binfile' WITH (FORMAT binary);
COPY hv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE hv_raw;
INSERT INTO hv_raw VALUES ('\x3e810000');
COPY hv_raw TO :'binfile' WITH (FORMAT binary);
COPY hv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE hv_raw;
INSERT INTO hv_raw VALUES ('\x000100013c00');
COPY hv_raw TO :'binfile' WITH (FORMAT binary);
COPY hv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE hv_raw;
INSERT INTO hv_raw VALUES ('\x000100007e00');
COPY hv_raw TO :'binfile' WITH (FORMAT binary);
COPY hv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE hv_raw;
INSERT INTO hv_raw VALUES ('\x00010000fc00');
COPY hv_raw TO :'binfile' WITH (FORMAT binary);
COPY hv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE hv_raw;
INSERT INTO hv_raw VALUES ('\x000200003c00');
COPY hv_raw TO :'binfile' WITH (FORMAT binary);
COPY hv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE hv_raw;
INSERT INTO hv_raw VALUES ('\x000100003c0000');
COPY hv_raw TO :'binfile' WITH (FORMAT binary);
COPY hv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE hv_raw;
INSERT INTO hv_raw VALUES ('\x000200003c004000');
COPY hv_raw TO :'binfile' WITH (FORMAT binary);
COPY hv_dst (v) FROM :'binfile' WITH (FORMAT binary);
-- leave an empty file behind
COPY (SELECT 1 WHERE false) TO :'binfile';
DROP TABLE hv_src, hv_dst, hv_raw, hv_one;

-- distances
SELECT l2_distance('[0,0]'::halfvec, '[3,4]');
SELECT l2_distance('[1,1,1,1,1,1,1,1,1]'::halfvec, '[1,1,1,1,1,1,1,4,5]');
SELECT l2_distance('[1,2]'::halfvec, '[3]');
SELECT '[0,0]'::halfvec <-> '[3,4]';
SELECT halfvec_l2_squared_distance('[0,0]', '[3,4]');
SELECT inner_product('[1,2]'::halfvec, '[3,4]');
SELECT inner_product('[65504]'::halfvec, '[65504]');
SELECT inner_product('[1,2]'::halfvec, '[3]');
SELECT '[1,2]'::halfvec <#> '[3,4]';
SELECT halfvec_negative_inner_product('[1,2]', '[3,4]');
SELECT cosine_distance('[1,2]'::halfvec, '[2,4]');
SELECT cosine_distance('[1,2]'::halfvec, '[0,0]');
SELECT cosine_distance('[1,1]'::halfvec, '[1,1]');
SELECT cosine_distance('[1,0]'::halfvec, '[0,2]');
SELECT cosine_distance('[1,1]'::halfvec, '[-1,-1]');
SELECT cosine_distance('[1,1]'::halfvec, '[1.1,1.1]');
SELECT cosine_distance('[1,2]'::halfvec, '[3]');
SELECT '[1,2]'::halfvec <=> '[2,4]';
SELECT halfvec_spherical_distance('[1,0]', '[0,1]');
SELECT halfvec_spherical_distance('[1,0]', '[-1,0]');
SELECT halfvec_spherical_distance('[1,0]', '[1,0]');
SELECT l1_distance('[0,0]'::halfvec, '[3,4]');
SELECT l1_distance('[1,2]'::halfvec, '[3]');
SELECT '[0,0]'::halfvec <+> '[3,-4]';
-- long enough for any SIMD main loop and its tail
SELECT round(l2_distance(a, b)::numeric, 3), round(inner_product(a, b)::numeric, 1),
	round(cosine_distance(a, b)::numeric, 6), round(l1_distance(a, b)::numeric, 3)
FROM (SELECT array_agg(i % 7 - 3)::halfvec AS a, array_agg((i * 5) % 11 - 5)::halfvec AS b
	FROM generate_series(1, 103) i) s;

-- other functions
SELECT vector_dims('[1,2,3]'::halfvec);
SELECT round(l2_norm('[1,1]'::halfvec)::numeric, 5);
SELECT l2_norm('[3,4]'::halfvec);
SELECT l2_norm('[0,0]'::halfvec);
SELECT l2_normalize('[3,4]'::halfvec);
SELECT l2_normalize('[3,0]'::halfvec);
SELECT l2_normalize('[0,0]'::halfvec);
SELECT l2_normalize('[65504,65504]'::halfvec);
SELECT binary_quantize('[1,0,-1]'::halfvec);
SELECT binary_quantize('[0,0.1,-0.2,-0.3,0.4,0.5,0.6,-0.7,0.8,-0.9,1]'::halfvec);
SELECT subvector('[1,2,3,4,5]'::halfvec, 1, 3);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, 2);
SELECT subvector('[1,2,3,4,5]'::halfvec, -1, 3);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, 9);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, 2147483647);
SELECT subvector('[1,2,3,4,5]'::halfvec, 1, 0);
SELECT subvector('[1,2,3,4,5]'::halfvec, 3, -1);
SELECT subvector('[1,2,3,4,5]'::halfvec, -1, 2);
SELECT subvector('[1,2,3,4,5]'::halfvec, 6, 1);
SELECT subvector('[1,2,3,4,5]'::halfvec, -2147483648, 2147483647);

-- arithmetic
SELECT '[1,2,3]'::halfvec + '[4,5,6]';
SELECT '[65519]'::halfvec + '[65519]';
SELECT '[1,2]'::halfvec + '[3]';
SELECT '[1,2,3]'::halfvec - '[4,5,6]';
SELECT '[-65504]'::halfvec - '[65504]';
SELECT '[1,2]'::halfvec - '[3]';
SELECT '[1,2,3]'::halfvec * '[4,5,6]';
SELECT '[65504]'::halfvec * '[2]';
SELECT '[1e-4]'::halfvec * '[1e-4]';
SELECT '[0]'::halfvec * '[1e-4]';
SELECT '[1,2]'::halfvec * '[3]';
SELECT '[1,2,3]'::halfvec || '[4,5]';
SELECT vector_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::halfvec || '[1]'::halfvec);

-- comparisons
SELECT '[1,2,3]'::halfvec < '[1,2,3]', '[1,2,3]'::halfvec <= '[1,2,3]',
	'[1,2,3]'::halfvec = '[1,2,3]', '[1,2,3]'::halfvec <> '[1,2,3]',
	'[1,2,3]'::halfvec >= '[1,2,3]', '[1,2,3]'::halfvec > '[1,2,3]';
SELECT '[1,2,3]'::halfvec < '[1,2,4]', '[1,2]'::halfvec < '[1,2,3]', '[2]'::halfvec > '[1,9]';
SELECT '[0]'::halfvec = '[-0]', halfvec_cmp('[1,2]', '[1,3]'), halfvec_cmp('[1,3]', '[1,2]'),
	halfvec_cmp('[1,2]', '[1,2]');
CREATE TABLE hv_sort (v halfvec);
INSERT INTO hv_sort VALUES ('[1,2,3]'), ('[1,2]'), ('[0,5]'), ('[1,-2,3]'), ('[2]'), (NULL);
SELECT v FROM hv_sort ORDER BY v;
CREATE INDEX ON hv_sort USING btree (v);
SET enable_seqscan = off;
SELECT v FROM hv_sort WHERE v > '[1,-2,3]' ORDER BY v;
RESET enable_seqscan;
SELECT count(DISTINCT v) FROM hv_sort;
DROP TABLE hv_sort;

-- aggregates
SELECT avg(v) FROM unnest(ARRAY['[1,2,3]'::halfvec, '[3,5,7]', NULL]) v;
SELECT avg(v) FROM unnest(ARRAY['[1,2,3]'::halfvec, '[3,5]']) v;
SELECT avg(v) FROM unnest(ARRAY[]::halfvec[]) v;
SELECT avg(v) FROM unnest(ARRAY['[65504]'::halfvec, '[65504]']) v;
SELECT sum(v) FROM unnest(ARRAY['[1,2,3]'::halfvec, '[3,5,7]', NULL]) v;
SELECT sum(v) FROM unnest(ARRAY['[1,2,3]'::halfvec, '[3,5]']) v;
SELECT sum(v) FROM unnest(ARRAY[]::halfvec[]) v;
CREATE TABLE hv_agg (g int, v halfvec(2));
INSERT INTO hv_agg SELECT i % 3, ARRAY[i % 10, -(i % 4)]::halfvec FROM generate_series(1, 3000) i;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT avg(v) FROM hv_agg;
SELECT g, avg(v) FROM hv_agg GROUP BY g ORDER BY g;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE hv_agg;

-- casts from arrays
SELECT '{1,2,3}'::int[]::halfvec;
SELECT '{1.5,2.5,-3.25}'::real[]::halfvec;
SELECT '{1.5,2.5,-3.25}'::float8[]::halfvec;
SELECT '{1.5,2.5,-3.25}'::numeric[]::halfvec;
SELECT '{65504,-65504}'::int[]::halfvec;
SELECT '{100000}'::int[]::halfvec;
SELECT '{1e5}'::real[]::halfvec;
SELECT '{1e300}'::float8[]::halfvec;
SELECT '{NaN}'::float8[]::halfvec;
SELECT '{-Infinity}'::real[]::halfvec;
SELECT '{1e39}'::numeric[]::halfvec;
SELECT '{{1,2},{3,4}}'::int[]::halfvec;
SELECT '{1,NULL,3}'::int[]::halfvec;
SELECT '{}'::int[]::halfvec;
SELECT '{1,2}'::int[]::halfvec(3);
SELECT array_fill(1, ARRAY[16001])::halfvec;
CREATE TABLE hv_assign (v halfvec(2));
INSERT INTO hv_assign VALUES ('{1,2}'::int[]), ('{3,4}'::real[]), ('{5,6}'::float8[]), ('{7,8}'::numeric[]);
SELECT v FROM hv_assign;
DROP TABLE hv_assign;

-- casts to and from real[] and vector
SELECT '[1,2.5,-3]'::halfvec::real[];
SELECT '[0.1]'::halfvec::real[];
SELECT '[1,2.5,-3]'::vector::halfvec;
SELECT '[0.1,1.23456]'::vector::halfvec;
SELECT '[1,2,3]'::vector::halfvec(3);
SELECT '[1,2,3]'::vector::halfvec(2);
SELECT '[65520]'::vector::halfvec;
SELECT '[1e-9]'::vector::halfvec;
SELECT '[1,2.5,-3]'::halfvec::vector;
SELECT '[0.1]'::halfvec::vector;
SELECT '[1,2,3]'::halfvec::vector(3);
SELECT '[1,2,3]'::halfvec::vector(2);
SELECT '[3,4]'::vector <-> '[0,0]'::halfvec;
CREATE TABLE hv_cast (h halfvec(2), v vector(2));
INSERT INTO hv_cast VALUES ('[1,2]'::vector, '[3,4]'::halfvec);
SELECT h, v FROM hv_cast;
DROP TABLE hv_cast;
SELECT castsource::regtype::text AS source, casttarget::regtype::text AS target,
	castcontext, castfunc::regprocedure
FROM pg_cast
WHERE castsource = 'halfvec'::regtype OR casttarget = 'halfvec'::regtype
ORDER BY castsource::regtype::text COLLATE "C", casttarget::regtype::text COLLATE "C";
