-- The vector type: text and binary I/O, type modifier, casts.
-- Error texts are part of the pgvector-compatible contract.

-- text input and output
SELECT '[1,2,3]'::vector;
SELECT '[-1,-2,-3]'::vector;
SELECT '[1.5,2.25,3]'::vector;
SELECT '[0.1,1e-7,123456789]'::vector;
SELECT '[1.23456789]'::vector;
SELECT '[-0]'::vector;
SELECT '[3.4028235e38,-3.4028235e38,1e-45]'::vector;
SELECT '[1e-50]'::vector;
SELECT ' [ 1,  2 ,    3  ] '::vector;
SELECT E'\t[1,\n2]\r'::vector;
SELECT '[0x1p3]'::vector;
SELECT '[1,2,3]'::vector::text;

-- malformed text
SELECT '[1,2,3'::vector;
SELECT '[1,2,3]9'::vector;
SELECT '[1,2,3] x'::vector;
SELECT '1,2,3'::vector;
SELECT ''::vector;
SELECT '['::vector;
SELECT '[ '::vector;
SELECT '[,'::vector;
SELECT '[1,]'::vector;
SELECT '[1,,2]'::vector;
SELECT '[1 2]'::vector;
SELECT '[1;2]'::vector;
SELECT '[a]'::vector;
SELECT '[1a]'::vector;
SELECT '{1,2,3}'::vector;
SELECT '[1,2,3]]'::vector;

-- values that are not allowed
SELECT '[]'::vector;
SELECT '[ ]'::vector;
SELECT '[NaN]'::vector;
SELECT '[1,nan]'::vector;
SELECT '[Infinity]'::vector;
SELECT '[-inf]'::vector;
SELECT '[1e39]'::vector;
SELECT '[1,-1e39]'::vector;
SELECT '[4e38]'::vector;

-- dimension limits
SELECT vector_dims(('[' || array_to_string(array_fill(1, ARRAY[16000]), ',') || ']')::vector);
SELECT ('[' || array_to_string(array_fill(1, ARRAY[16001]), ',') || ']')::vector;

-- type modifier
SELECT '[1,2]'::vector(2);
SELECT '[1,2,3]'::vector(2);
SELECT '[1,2]'::vector(3);
SELECT '[1]'::vector(16000);
SELECT '[1,2]'::vector(0);
SELECT '[1,2]'::vector(-1);
SELECT '[1,2]'::vector(16001);
SELECT '[1,2]'::vector(2, 3);
SELECT '[1,2]'::vector('a');
SELECT format_type('vector'::regtype, -1), format_type('vector'::regtype, 3);

CREATE TABLE vt (id int, v vector(3));
\d vt
INSERT INTO vt VALUES (1, '[1,2,3]'), (2, NULL);
INSERT INTO vt VALUES (3, '[1,2]');
INSERT INTO vt VALUES (3, '[1,2,3]'::vector(3));
INSERT INTO vt VALUES (4, '[1,2,3,4]'::vector);
INSERT INTO vt VALUES (5, ARRAY[4,5,6]);
INSERT INTO vt VALUES (6, ARRAY[1,2]);
UPDATE vt SET v = '[1,2]'::vector WHERE id = 1;
SELECT * FROM vt ORDER BY id;
SELECT '[1,2,3]'::vector::vector(3);
SELECT '[1,2,3]'::vector::vector(2);
SELECT ('[1,2,3]'::vector(3))::vector(4);
SELECT pg_column_size('[1,2,3]'::vector);

-- casts from arrays
SELECT ARRAY[1,2,3]::vector;
SELECT ARRAY[1.5,2.5,3.5]::real[]::vector;
SELECT ARRAY[1.5,2.5,3.5]::double precision[]::vector;
SELECT ARRAY[1.5,2.5,3.5]::numeric[]::vector;
SELECT ARRAY[0.1]::double precision[]::vector;
SELECT ARRAY[1,2,3]::vector(3);
SELECT ARRAY[1,2,3]::vector(2);
SELECT ARRAY[[1,2],[3,4]]::vector;
SELECT ARRAY[1,NULL,3]::vector;
SELECT ARRAY[]::integer[]::vector;
SELECT '{}'::real[]::vector;
SELECT ARRAY['NaN']::real[]::vector;
SELECT ARRAY['Infinity']::double precision[]::vector;
SELECT ARRAY[1e39]::double precision[]::vector;
SELECT ARRAY[1e39]::numeric[]::vector;
SELECT array_fill(1, ARRAY[16001])::vector;
SELECT ARRAY[1,2]::bigint[]::vector;

-- cast to real[]
SELECT '[1,2,3]'::vector::real[];
SELECT '[0.1,1e-7]'::vector::real[];
SELECT array_length('[1,2,3,4]'::vector::real[], 1);
SELECT unnest('[1.5,-2]'::vector::real[]);

-- binary send
SELECT vector_send('[1,2]');
SELECT vector_send('[-0,1.5,-3.25]');
SELECT vector_send('[1e-45]');

-- binary round trip through COPY
\getenv abs_builddir PG_ABS_BUILDDIR
\set binfile :abs_builddir '/results/vector_type.bin'
CREATE TABLE vt_src (v vector(3));
INSERT INTO vt_src VALUES ('[1,2,3]'), ('[0.1,-1e-07,1.2345679e+08]'), (NULL), ('[3.4028235e38,-0,1e-45]');
COPY vt_src TO :'binfile' WITH (FORMAT binary);
SELECT encode(pg_read_binary_file(:'binfile'), 'hex');
CREATE TABLE vt_dst (v vector(3));
COPY vt_dst FROM :'binfile' WITH (FORMAT binary);
SELECT * FROM vt_dst;
SELECT (SELECT array_agg(v) FROM vt_src) = (SELECT array_agg(v) FROM vt_dst) AS same;
CREATE TABLE vt_dst2 (v vector(2));
COPY vt_dst2 FROM :'binfile' WITH (FORMAT binary);
CREATE TABLE vt_dst3 (v vector);
COPY vt_dst3 FROM :'binfile' WITH (FORMAT binary);
SELECT count(*), count(v) FROM vt_dst3;

-- binary input errors: write one-field COPY BINARY files by hand
CREATE FUNCTION pg_temp.write_copy(field bytea, path text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	lo oid;
BEGIN
	-- signature, flags, header extension length, field count, field length, field, trailer
	lo := lo_from_bytea(0, '\x5047434f50590aff0d0a00'::bytea || '\x00000000'::bytea
		|| '\x00000000'::bytea || '\x0001'::bytea
		|| int4send(length(field)) || field || '\xffff'::bytea);
	PERFORM lo_export(lo, path);
	PERFORM lo_unlink(lo);
END
$$;
\set badfile :abs_builddir '/results/vector_type_bad.bin'
CREATE TABLE vt_recv (v vector);
CREATE TABLE vt_recv2 (v vector(2));
SELECT pg_temp.write_copy('\x000200003f80000040000000', :'badfile');
COPY vt_recv FROM :'badfile' WITH (FORMAT binary);
COPY vt_recv2 FROM :'badfile' WITH (FORMAT binary);
SELECT * FROM vt_recv;
SELECT * FROM vt_recv2;
-- unused must be 0
SELECT pg_temp.write_copy('\x000200013f80000040000000', :'badfile');
COPY vt_recv FROM :'badfile' WITH (FORMAT binary);
-- dimension 0, negative, above the limit
SELECT pg_temp.write_copy('\x00000000', :'badfile');
COPY vt_recv FROM :'badfile' WITH (FORMAT binary);
SELECT pg_temp.write_copy('\xffff0000', :'badfile');
COPY vt_recv FROM :'badfile' WITH (FORMAT binary);
SELECT pg_temp.write_copy('\x3e810000', :'badfile');
COPY vt_recv FROM :'badfile' WITH (FORMAT binary);
-- typmod mismatch
SELECT pg_temp.write_copy('\x000300003f8000004000000040400000', :'badfile');
COPY vt_recv2 FROM :'badfile' WITH (FORMAT binary);
-- NaN and infinity
SELECT pg_temp.write_copy('\x000200003f8000007fc00000', :'badfile');
COPY vt_recv FROM :'badfile' WITH (FORMAT binary);
SELECT pg_temp.write_copy('\x00020000ff8000003f800000', :'badfile');
COPY vt_recv FROM :'badfile' WITH (FORMAT binary);
-- too short, trailing bytes
SELECT pg_temp.write_copy('\x000200003f800000', :'badfile');
COPY vt_recv FROM :'badfile' WITH (FORMAT binary);
SELECT pg_temp.write_copy('\x000100003f80000000', :'badfile');
COPY vt_recv FROM :'badfile' WITH (FORMAT binary);
SELECT * FROM vt_recv;

DROP TABLE vt, vt_src, vt_dst, vt_dst2, vt_dst3, vt_recv, vt_recv2;
