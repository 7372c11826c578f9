-- Hamming and Jaccard distances over bit, as pgvector adds them.

SELECT hamming_distance(B'111', B'111');
SELECT hamming_distance(B'111', B'110');
SELECT hamming_distance(B'111', B'100');
SELECT hamming_distance(B'111', B'000');
SELECT hamming_distance(B'', B'');
SELECT hamming_distance(B'111', B'00');
SELECT B'1010' <~> B'0101';
SELECT B'1010'::varbit <~> B'1000'::varbit;
SELECT B'111' <~> B'00';

SELECT jaccard_distance(B'1111', B'1111');
SELECT jaccard_distance(B'1111', B'1110');
SELECT jaccard_distance(B'1111', B'1100');
SELECT jaccard_distance(B'1111', B'1000');
SELECT jaccard_distance(B'1111', B'0000');
SELECT jaccard_distance(B'1100', B'1000');
SELECT jaccard_distance(B'0000', B'0000');
SELECT jaccard_distance(B'1100', B'0011');
SELECT jaccard_distance(B'1111', B'000');
SELECT B'1100' <%> B'1000';
SELECT B'1111' <%> B'000';

-- long strings: every byte-loop and tail path of the popcount kernels
SELECT hamming_distance(a, b), round(jaccard_distance(a, b)::numeric, 6),
	length(replace((a # b)::text, '0', '')) AS hamming_check,
	round(1 - length(replace((a & b)::text, '0', ''))::numeric /
		length(replace((a | b)::text, '0', '')), 6) AS jaccard_check
FROM (SELECT string_agg(CASE WHEN i % 3 = 0 THEN '1' ELSE '0' END, '')::varbit AS a,
		string_agg(CASE WHEN i % 5 < 2 THEN '1' ELSE '0' END, '')::varbit AS b
	FROM generate_series(1, 1021) i) s;

-- with binary_quantize, the documented re-ranking pattern
SELECT binary_quantize('[1,-1,2,-2]'::halfvec) <~> binary_quantize('[1,1,-2,-2]'::halfvec);
SELECT binary_quantize('[1,-1,2,-2]'::halfvec) <%> binary_quantize('[1,1,-2,-2]'::halfvec);

SELECT oprname, oprleft::regtype, oprright::regtype, oprresult::regtype, oprcode
FROM pg_operator WHERE oprname IN ('<~>', '<%>') ORDER BY oprname COLLATE "C";
