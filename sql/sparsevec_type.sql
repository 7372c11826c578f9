-- sparsevec: text and binary I/O, type modifier, casts, functions,
-- operators and the btree opclass.  Error texts match pgvector 0.8.

-- text input and output (1-based indices)
SELECT '{1:1.5,3:3.5}/5'::sparsevec;
SELECT '{1:-2,3:-4}/5'::sparsevec;
SELECT '{1:2.,3:4.}/5'::sparsevec;
SELECT ' { 1 : 1.5 ,  3  :  3.5  } / 5 '::sparsevec;
SELECT '{1:1.23456}/1'::sparsevec;
SELECT '{1:1.5e38,2:-1.5e38}/2'::sparsevec;
SELECT '{1:1.5e-38,2:-1.5e-38}/2'::sparsevec;
SELECT '{1:0,2:1,3:0}/3'::sparsevec;
SELECT '{3:3,1:1,2:2}/3'::sparsevec;
SELECT '{1:0,1:1}/3'::sparsevec;
SELECT '{}/5'::sparsevec;
SELECT '{ }/1'::sparsevec;
SELECT '{1000000000:1}/1000000000'::sparsevec;
SELECT '{1:hello,2:1}/2'::sparsevec;
SELECT '{1:NaN,2:1}/2'::sparsevec;
SELECT '{1:Infinity,2:1}/2'::sparsevec;
SELECT '{1:-Infinity,2:1}/2'::sparsevec;
SELECT '{1:4e38,2:1}/2'::sparsevec;
SELECT '{1:-4e38,2:1}/2'::sparsevec;
SELECT '{1:1e-46,2:1}/2'::sparsevec;
SELECT ''::sparsevec;
SELECT '{'::sparsevec;
SELECT '{ '::sparsevec;
SELECT '{:'::sparsevec;
SELECT '{,'::sparsevec;
SELECT '{}'::sparsevec;
SELECT '{}/'::sparsevec;
SELECT '{}/1a'::sparsevec;
SELECT '{:}/1'::sparsevec;
SELECT '{,}/1'::sparsevec;
SELECT '{1,}/1'::sparsevec;
SELECT '{:1}/1'::sparsevec;
SELECT '{1:}/1'::sparsevec;
SELECT '{1a:1}/1'::sparsevec;
SELECT '{1:1a}/1'::sparsevec;
SELECT '{1:1,}/1'::sparsevec;
SELECT '{1:1}x/1'::sparsevec;
SELECT '{1:1,1:1}/2'::sparsevec;
SELECT '{1:1,2:1,1:1}/2'::sparsevec;
SELECT '{}/-1'::sparsevec;
SELECT '{}/0'::sparsevec;
SELECT '{}/1000000001'::sparsevec;
SELECT '{}/2147483648'::sparsevec;
SELECT '{}/-2147483649'::sparsevec;
SELECT '{}/9223372036854775808'::sparsevec;
SELECT '{}/-9223372036854775809'::sparsevec;
SELECT '{2147483647:1}/1'::sparsevec;
SELECT '{2147483648:1}/1'::sparsevec;
SELECT '{-2147483648:1}/1'::sparsevec;
SELECT '{-2147483649:1}/1'::sparsevec;
SELECT '{0:1}/1'::sparsevec;
SELECT '{2:1}/1'::sparsevec;
SELECT unnest('{"{1:1}/2", "{2:2}/2"}'::sparsevec[]);

-- non-zero element limit
SELECT l2_norm(('{' || string_agg(i || ':1', ',') || '}/16000')::sparsevec)
FROM generate_series(1, 16000) i;
SELECT ('{' || string_agg(i || ':1', ',') || '}/16001')::sparsevec
FROM generate_series(1, 16001) i;

-- type modifier
SELECT '{}/3'::sparsevec(3);
SELECT '{}/3'::sparsevec(2);
SELECT '{}/3'::sparsevec(3, 2);
SELECT '{}/3'::sparsevec('a');
SELECT '{}/3'::sparsevec(0);
SELECT '{}/3'::sparsevec(1000000001);
CREATE TABLE sv_typmod (v sparsevec(3));
INSERT INTO sv_typmod VALUES ('{1:1}/3');
INSERT INTO sv_typmod VALUES ('{1:1}/2');
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'sv_typmod'::regclass AND attname = 'v';
DROP TABLE sv_typmod;

-- storage: 8 * nnz + 16 bytes, external
SELECT pg_column_size('{1:1,3:2,5:3}/1000'::sparsevec);
SELECT typstorage, typlen FROM pg_type WHERE typname = 'sparsevec';

-- binary output: int32 dim, nnz, unused, 0-based int32 indices, float4 values
SELECT sparsevec_send('{1:1.5,3:2}/5');
SELECT sparsevec_send('{}/7');

-- binary round trip through COPY
SELECT current_setting('data_directory') || '/pgmlops_sparsevec_type.bin' AS binfile \gset
CREATE TABLE sv_src (id int, v sparsevec);
INSERT INTO sv_src VALUES (1, '{1:1.5,3:-2}/5'), (2, '{}/5'), (3, '{5:1e-45,1:3.4e38}/5'), (4, NULL);
COPY sv_src TO :'binfile' WITH (FORMAT binary);
CREATE TABLE sv_dst (id int, v sparsevec(5));
COPY sv_dst FROM :'binfile' WITH (FORMAT binary);
SELECT s.id, s.v, d.v, s.v = d.v AS same FROM sv_src s JOIN sv_dst d USING (id) ORDER BY id;

-- binary input errors: each bytea below is fed to sparsevec_recv by COPY
CREATE TABLE sv_raw (b bytea);
CREATE TABLE sv_one (v sparsevec);
INSERT INTO sv_raw VALUES ('\x00000005000000020000000000000000000000023fc0000040000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
SELECT v FROM sv_one;
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x000000000000000000000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x3b9aca010000000000000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x00000005ffffffff00000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x0000ffff00003e8100000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x000000010000000200000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x000000050000000000000001');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x0000000500000001000000000000000500000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x00000005000000010000000080000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x000000050000000200000000000000020000000000000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x000000050000000200000000000000020000000200000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x0000000500000001000000000000000000000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x00000005000000010000000000000000ffc00000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x000000050000000100000000000000007f800000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x00000005000000010000000000000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x000000050000000000000000ff');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_one FROM :'binfile' WITH (FORMAT binary);
TRUNCATE sv_raw;
INSERT INTO sv_raw VALUES ('\x000000070000000000000000');
COPY sv_raw TO :'binfile' WITH (FORMAT binary);
COPY sv_dst (v) FROM :'binfile' WITH (FORMAT binary);
-- leave an empty file behind
COPY (SELECT 1 WHERE false) TO :'binfile';
DROP TABLE sv_src, sv_dst, sv_raw, sv_one;

-- distances
SELECT l2_distance('{}/2'::sparsevec, '{1:3,2:4}/2');
SELECT l2_distance('{1:3}/2'::sparsevec, '{2:4}/2');
SELECT l2_distance('{2:4}/2'::sparsevec, '{1:3}/2');
SELECT l2_distance('{1:3,2:4}/2'::sparsevec, '{}/2');
SELECT l2_distance('{1:1,3:5,9:2}/9'::sparsevec, '{1:1,2:3,9:4}/9');
SELECT l2_distance('{}/2'::sparsevec, '{1:1}/1');
SELECT '{}/2'::sparsevec <-> '{1:3,2:4}/2';
SELECT sparsevec_l2_squared_distance('{}/2', '{1:3,2:4}/2');
SELECT inner_product('{1:1,2:2}/2'::sparsevec, '{1:2,2:4}/2');
SELECT inner_product('{1:1,3:2,7:5}/9'::sparsevec, '{2:4,3:3,7:1,9:8}/9');
SELECT inner_product('{1:1}/2'::sparsevec, '{2:1}/2');
SELECT inner_product('{}/2'::sparsevec, '{1:1}/1');
SELECT '{1:1,2:2}/2'::sparsevec <#> '{1:2,2:4}/2';
SELECT sparsevec_negative_inner_product('{1:1,2:2}/2', '{1:2,2:4}/2');
SELECT cosine_distance('{1:1,2:2}/2'::sparsevec, '{1:2,2:4}/2');
SELECT cosine_distance('{1:1,2:2}/2'::sparsevec, '{}/2');
SELECT cosine_distance('{1:1,2:1}/2'::sparsevec, '{1:-1,2:-1}/2');
SELECT cosine_distance('{1:1}/2'::sparsevec, '{2:2}/2');
SELECT cosine_distance('{1:1,2:1}/2'::sparsevec, '{1:1.1,2:1.1}/2');
SELECT cosine_distance('{}/2'::sparsevec, '{1:1}/1');
SELECT '{1:1,2:2}/2'::sparsevec <=> '{1:2,2:4}/2';
SELECT l1_distance('{}/2'::sparsevec, '{1:3,2:4}/2');
SELECT l1_distance('{1:3}/2'::sparsevec, '{2:-4}/2');
SELECT l1_distance('{1:1,3:5,9:2}/9'::sparsevec, '{1:1,2:3,9:4}/9');
SELECT l1_distance('{}/2'::sparsevec, '{1:1}/1');
SELECT '{}/2'::sparsevec <+> '{1:3,2:4}/2';
-- the sparse and the dense paths agree
SELECT round((a <-> b)::numeric, 4) = round((a::vector <-> b::vector)::numeric, 4) AS l2,
	round((a <#> b)::numeric, 4) = round((a::vector <#> b::vector)::numeric, 4) AS ip,
	round((a <=> b)::numeric, 6) = round((a::vector <=> b::vector)::numeric, 6) AS cosine,
	round((a <+> b)::numeric, 4) = round((a::vector <+> b::vector)::numeric, 4) AS l1
FROM (SELECT array_agg(CASE WHEN i % 3 = 0 THEN 0 ELSE i % 7 - 3 END)::sparsevec AS a,
		array_agg(CASE WHEN i % 4 = 0 THEN 0 ELSE (i * 5) % 11 - 5 END)::sparsevec AS b
	FROM generate_series(1, 100) i) s;

-- other functions
SELECT l2_norm('{1:3,2:4}/2'::sparsevec);
SELECT round(l2_norm('{1:1,2:1}/2'::sparsevec)::numeric, 5);
SELECT l2_norm('{}/2'::sparsevec);
SELECT l2_normalize('{1:3,2:4}/2'::sparsevec);
SELECT l2_normalize('{1:3}/2'::sparsevec);
SELECT l2_normalize('{}/2'::sparsevec);
SELECT l2_normalize('{1:1e-38,2:3e38}/2'::sparsevec);

-- comparisons: the order of the equivalent dense vectors, then dimensions
SELECT '{1:1}/3'::sparsevec < '{1:1}/3', '{1:1}/3'::sparsevec <= '{1:1}/3',
	'{1:1}/3'::sparsevec = '{1:1}/3', '{1:1}/3'::sparsevec <> '{1:1}/3',
	'{1:1}/3'::sparsevec >= '{1:1}/3', '{1:1}/3'::sparsevec > '{1:1}/3';
CREATE TABLE sv_sort (v sparsevec);
INSERT INTO sv_sort VALUES ('{1:1}/3'), ('{2:1}/3'), ('{2:-1}/3'), ('{}/3'), ('{}/2'),
	('{1:1}/2'), ('{1:1,3:1}/3'), ('{3:-1}/3'), ('{1:-1}/3'), ('{1:2}/1'), ('{}/4'), (NULL);
SELECT v, v::vector AS dense FROM sv_sort ORDER BY v;
-- the same order as vector
SELECT array_agg(v ORDER BY v) = array_agg(v ORDER BY v::vector, v) FROM sv_sort;
SELECT sparsevec_cmp('{1:1}/3', '{1:1}/3'), sparsevec_cmp('{1:1}/3', '{2:1}/3'),
	sparsevec_cmp('{2:1}/3', '{1:1}/3'), sparsevec_cmp('{3:1}/3', '{}/2'),
	sparsevec_cmp('{}/2', '{3:1}/3');
CREATE INDEX ON sv_sort USING btree (v);
SET enable_seqscan = off;
SELECT v FROM sv_sort WHERE v >= '{1:1}/2' ORDER BY v;
RESET enable_seqscan;
DROP TABLE sv_sort;

-- casts from arrays
SELECT '{0,1,0,-2}'::int[]::sparsevec;
SELECT '{0,1.5,0,-2.5}'::real[]::sparsevec;
SELECT '{0,1.5,0,-2.5}'::float8[]::sparsevec;
SELECT '{0,1.5,0,-2.5}'::numeric[]::sparsevec;
SELECT '{0,0}'::int[]::sparsevec;
SELECT '{1e300}'::float8[]::sparsevec;
SELECT '{NaN}'::real[]::sparsevec;
SELECT '{{1,2},{3,4}}'::int[]::sparsevec;
SELECT '{1,NULL,3}'::int[]::sparsevec;
SELECT '{}'::int[]::sparsevec;
SELECT '{1,2}'::int[]::sparsevec(3);
SELECT l2_norm(array_fill(1, ARRAY[16000])::sparsevec);
SELECT array_fill(1, ARRAY[16001])::sparsevec;
SELECT vector_dims((array_fill(0, ARRAY[100000]) || 1)::sparsevec::vector);
CREATE TABLE sv_assign (v sparsevec(2));
INSERT INTO sv_assign VALUES ('{1,0}'::int[]), ('{0,4}'::real[]), ('{5,6}'::float8[]), ('{7,8}'::numeric[]);
SELECT v FROM sv_assign;
DROP TABLE sv_assign;

-- casts to and from vector and halfvec
SELECT '[0,1.5,0,-2]'::vector::sparsevec;
SELECT '[0,0]'::vector::sparsevec;
SELECT '[1,2,3]'::vector::sparsevec(3);
SELECT '[1,2,3]'::vector::sparsevec(2);
SELECT '[0,1.5,-0,-2]'::halfvec::sparsevec;
SELECT '[1,2,3]'::halfvec::sparsevec(2);
SELECT '{2:1.5,4:-2}/5'::sparsevec::vector;
SELECT '{}/3'::sparsevec::vector;
SELECT '{2:1.5}/5'::sparsevec::vector(5);
SELECT '{2:1.5}/5'::sparsevec::vector(4);
SELECT '{1:1}/16001'::sparsevec::vector;
SELECT '{2:1.5,4:-2}/5'::sparsevec::halfvec;
SELECT '{2:0.1}/2'::sparsevec::halfvec;
SELECT '{2:1.5}/5'::sparsevec::halfvec(4);
SELECT '{1:1}/16001'::sparsevec::halfvec;
SELECT '{1:70000}/1'::sparsevec::halfvec;
SELECT '[3,4]'::vector <-> '{}/2'::sparsevec;
SELECT '[3,4]'::halfvec <-> '{}/2'::sparsevec;
CREATE TABLE sv_cast (s sparsevec(3), v vector(3), h halfvec(3));
INSERT INTO sv_cast VALUES ('[1,0,2]'::vector, '{1:1}/3'::sparsevec, '{3:2}/3'::sparsevec);
INSERT INTO sv_cast (s) VALUES ('[0,3,0]'::halfvec);
SELECT s, v, h FROM sv_cast;
DROP TABLE sv_cast;
SELECT castsource::regtype::text AS source, casttarget::regtype::text AS target,
	castcontext, castfunc::regprocedure
FROM pg_cast
WHERE castsource = 'sparsevec'::regtype OR casttarget = 'sparsevec'::regtype
ORDER BY castsource::regtype::text COLLATE "C", casttarget::regtype::text COLLATE "C";
