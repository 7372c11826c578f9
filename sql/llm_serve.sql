-- The inference service on the reference fixtures (CPU): registration in
-- the model registry, generation equal to the fixtures' greedy tokens,
-- embeddings equal to sentence-transformers', streaming, chat templates,
-- sampling, stop strings, bad input and privileges.  The server runs with
-- pgmlops in shared_preload_libraries (the inference worker).

\getenv abs_srcdir PG_ABS_SRCDIR
SELECT :'abs_srcdir' || '/test/data/fixtures' AS model_dir \gset

-- everything in one transaction that is rolled back, so that the models
-- registered here do not show in the other tests' registry listings
\set ON_ERROR_ROLLBACK on
BEGIN;

-- models are disabled until a superuser sets mlops.model_dir
RESET mlops.model_dir;
SELECT mlops.register_model('llama', 'llama-tiny-f32', task => 'text-generation');
SET mlops.model_dir = :'model_dir';

SELECT mlops.register_model('llama', 'llama-tiny-f32', task => 'text-generation');
SELECT mlops.register_model('qwen2', 'qwen2-tiny-f32', task => 'text-generation');
SELECT mlops.register_model('mistral', 'mistral-tiny-f32', task => 'text-generation');
SELECT mlops.register_model('llama3chat', 'llama3-chat-f32', 'text-generation');
SELECT mlops.register_model('mean', 'bert-tiny-mean', task => 'embedding');
SELECT mlops.register_model('cls', 'bert-tiny-cls', task => 'embedding');
SELECT name, task FROM mlops.model_list WHERE task IN ('text-generation', 'embedding') ORDER BY name;
SELECT model, version, algorithm, device, source, length(data_checksum) AS checksum_len,
	   train_rows, created_by = session_user AS by_me
  FROM mlops.model_versions WHERE device IN ('local', 'remote') ORDER BY model, version;
SELECT model, alias, version FROM mlops.model_aliases
 WHERE model IN (SELECT name FROM mlops.models WHERE task IN ('text-generation', 'embedding')) ORDER BY model;

-- greedy generation gives the fixtures' 16 tokens for every prompt
CREATE TEMP TABLE golden (model text, dir text, n int, prompt text, ids int[]);
INSERT INTO golden VALUES
	('llama', 'llama-tiny-f32', 0, E'The quick brown fox jumps over the lazy dog.', '{175,440,116,377,364,434,116,434,116,283,245,496,32,116,434,434}'),
	('llama', 'llama-tiny-f32', 1, E'def f(x):\n\treturn x**2', '{281,326,175,82,433,104,301,82,433,104,301,301,104,301,104,301}'),
	('llama', 'llama-tiny-f32', 2, E'Explain Kubernetes autoscaling in one sentence.', '{301,420,217,199,217,434,331,377,219,492,331,41,114,14,434,43}'),
	('qwen2', 'qwen2-tiny-f32', 0, E'The quick brown fox jumps over the lazy dog.', '{475,501,475,501,475,501,475,501,475,501,475,475,475,475,475,475}'),
	('qwen2', 'qwen2-tiny-f32', 1, E'def f(x):\n\treturn x**2', '{118,259,259,399,399,399,399,399,399,381,381,381,381,381,381,429}'),
	('qwen2', 'qwen2-tiny-f32', 2, E'Explain Kubernetes autoscaling in one sentence.', '{141,458,72,72,72,72,72,72,72,72,72,72,72,72,72,72}'),
	('mistral', 'mistral-tiny-f32', 0, E'The quick brown fox jumps over the lazy dog.', '{3,291,3,65,507,169,243,329,348,74,181,415,25,55,191,348}'),
	('mistral', 'mistral-tiny-f32', 1, E'def f(x):\n\treturn x**2', '{180,310,70,25,341,98,201,316,150,25,341,98,301,464,150,98}'),
	('mistral', 'mistral-tiny-f32', 2, E'Explain Kubernetes autoscaling in one sentence.', '{340,451,99,155,431,480,486,414,409,383,260,167,288,288,288,288}');
SELECT model, n,
	   mlops.generate(model, prompt, max_tokens => 16, options => '{"ignore_eos": true}')
		 = mlops.detokenize(dir, ids, true) AS same_text
  FROM golden ORDER BY model, n;

-- the stream is the same text, in pieces
SELECT model, n,
	   (SELECT string_agg(piece, '' ORDER BY ord) FROM
			mlops.generate_stream(model, prompt, max_tokens => 16, options => '{"ignore_eos": true}')
			WITH ORDINALITY AS s(piece, ord)) = mlops.detokenize(dir, ids, true) AS same_text,
	   (SELECT count(*) > 1 FROM
			mlops.generate_stream(model, prompt, max_tokens => 16, options => '{"ignore_eos": true}')) AS pieces
  FROM golden WHERE n = 0 ORDER BY model;

-- embeddings: cosine >= 0.99999 with sentence-transformers'
CREATE TEMP TABLE egolden (model text, n int, input text, emb float8[]);
INSERT INTO egolden VALUES
	('mean', 0, E'The quick brown fox jumps over the lazy dog.', '{-0.1198462,0.2797313,0.0143453,-0.1063879,0.1373536,0.017687,-0.0181763,0.1401853,-0.0541815,-0.0216346,0.1869838,0.0192356,-0.1061224,-0.2120972,0.1526407,-0.0679438,-0.1434334,0.0092981,-0.0388394,-0.0899204,-0.1745017,0.2744378,0.0101672,0.0292872,-0.0923098,0.0067963,0.101764,-0.2018067,0.0071811,-0.0049511,0.1486614,0.1027767,-0.0596741,-0.0081155,-0.1216705,-0.0677199,0.1122152,-0.0950881,-0.0014819,-0.1043852,0.0107343,0.0182814,0.050809,-0.1070587,0.0171971,-0.2269207,0.0638821,0.0259428,-0.1236006,-0.055189,-0.0281544,-0.0365334,-0.1269778,0.2145687,0.0156045,0.1138039,-0.2042426,0.0475174,0.1484416,-0.1301826,0.1340501,0.0017747,-0.0818377,0.4176297}'),
	('mean', 1, E'A fast auburn fox leaped above a sleepy hound.', '{-0.1109039,0.2174619,-0.0089376,-0.0572599,0.1186452,-0.0202425,0.0061631,0.1258081,-0.0404798,0.0135567,0.1919575,-0.0209164,-0.0705064,-0.2120576,0.2181396,-0.0660135,-0.1887111,0.0062317,-0.0208157,-0.0903894,-0.1758265,0.2820008,0.0735319,0.0212673,-0.1357886,0.0127489,0.0575741,-0.2238733,0.0178082,-0.0079249,0.1654059,0.0898961,-0.0105226,-0.0472736,-0.1133689,-0.0306594,0.1111886,-0.074317,-0.0249054,-0.102507,0.0387709,0.0092564,0.0425633,-0.0596758,0.0570978,-0.2202052,0.0510407,0.0147718,-0.131177,-0.0767201,-0.0586091,-0.0181532,-0.0524349,0.193192,-0.0272165,0.0935181,-0.2638407,0.0307786,0.1592077,-0.1080616,0.0656462,0.0389236,-0.092336,0.4384785}'),
	('mean', 2, E'Kubernetes autoscaling adjusts replicas to load.', '{-0.11696,0.2155569,0.036589,-0.1266547,0.0952244,-0.0483818,-0.0273212,0.2236926,-0.1035198,0.0074571,0.1388145,-0.012599,-0.1143962,-0.2236076,0.1417964,-0.044914,-0.1298884,0.0351857,-0.0058082,-0.0762827,-0.1337682,0.2958928,0.0134463,0.0596333,-0.1529555,0.0240948,0.0580422,-0.1601514,0.0553402,0.0352989,0.140359,0.0774562,-0.0417448,-0.058446,-0.1044471,-0.0941141,0.1393255,-0.0710678,0.0011925,-0.0876938,0.0313058,0.0153504,0.0682159,-0.0825949,0.0672201,-0.2259566,0.0654108,0.0349651,-0.1271983,-0.0497352,-0.0346271,-0.0252386,-0.1138041,0.2224308,-0.0155825,0.0776892,-0.2495729,0.0077401,0.1830952,-0.1198361,0.0667695,-0.0060958,-0.0822787,0.4326521}'),
	('mean', 3, E'Café naïve 東京', '{-0.2011192,0.2714692,-0.0029925,-0.077149,0.1392026,-0.0595735,0.0449021,0.2100535,-0.0303916,-0.0701496,0.1054231,0.085524,-0.1539997,-0.1294299,0.1616502,-0.1253515,-0.1017078,-0.0019542,-0.0798799,-0.0950622,-0.1890714,0.2773485,-0.0038962,-0.0444416,-0.0506756,-0.0085787,-0.0297461,-0.1675954,-0.0307001,0.0314945,0.2091996,0.1313829,-0.0411236,-0.0518499,-0.1150793,-0.0163054,0.1423509,-0.0784265,-0.0431928,-0.0881802,-0.0026749,0.0695846,0.0604878,-0.0714025,0.0346833,-0.2031123,0.0900637,0.0420233,-0.0656386,-0.0798452,-0.0643732,-0.0784141,-0.0805815,0.1549833,-0.0208079,0.0657162,-0.1806638,0.0854326,0.1960586,-0.1012512,0.0414861,0.0104737,-0.0693985,0.4447928}'),
	('mean', 4, E'short', '{-0.1265832,0.2119408,-0.022578,-0.1233281,0.1692768,0.0089434,-0.0210226,0.0947931,0.0300457,-0.0414579,0.1651929,0.0248732,-0.0472644,-0.0959975,0.2174864,-0.1054117,-0.0961049,-0.014298,-0.093681,-0.0655016,-0.1583139,0.3408027,-0.0253427,-0.0810542,-0.1079292,-0.0089117,-0.0730703,-0.1537254,0.0095352,0.0805539,0.2769838,0.0555523,-0.0593538,-0.0398328,-0.1410874,-0.0483192,0.1573251,-0.0486289,-0.1064004,-0.1329184,0.0603606,0.1479481,0.0717256,-0.0696216,0.050211,-0.2029904,0.1373243,-0.0426869,-0.0852258,-0.1329747,0.042428,-0.0280793,0.0128619,0.1048391,-0.1033907,0.0361886,-0.2388526,0.0612036,0.1830014,-0.0693526,5.89e-05,-0.0349779,-0.0859608,0.3807741}'),
	('cls', 0, E'The quick brown fox jumps over the lazy dog.', '{-0.0429121,0.245722,-0.1294089,-0.0990674,0.0732641,-0.1354144,-0.0342428,-0.060251,-0.0503656,-0.0587581,0.175634,0.0803734,-0.1330812,-0.0042104,0.1839827,-0.0275586,-0.1034643,0.0122084,-0.1256058,-0.1231243,-0.1370716,0.2001449,0.2344845,-0.0139801,-0.1217478,-0.018627,-0.0555846,-0.0739837,0.0057683,-0.0955347,0.1252692,0.1875318,0.0376198,0.0173652,-0.1095134,0.15039,0.1009463,0.0302656,-0.0170166,-0.0374852,-0.0608951,0.1324849,0.0287113,-0.07516,-0.1223252,-0.0952785,0.0464389,-0.0248445,-0.1425685,-0.2897649,0.0200766,-0.100741,0.0924189,0.0248271,0.1192518,-0.0084257,-0.254403,0.118637,0.2769795,-0.1087505,-0.0925485,0.0589572,0.0527043,0.3512569}'),
	('cls', 1, E'A fast auburn fox leaped above a sleepy hound.', '{-0.0361877,0.2263404,-0.1305185,-0.0885118,0.0892287,-0.1466094,-0.0287773,-0.0697551,-0.027616,-0.0487879,0.1782406,0.0510407,-0.112936,0.0086715,0.1895553,-0.0150755,-0.1115157,0.0067268,-0.1264038,-0.1099009,-0.1490059,0.1918264,0.2494192,-0.0215376,-0.1289213,-0.024498,-0.0698767,-0.0725929,0.0134757,-0.097122,0.1173078,0.1836509,0.0498867,0.0118464,-0.1232691,0.154476,0.0937912,0.0333885,-0.0077259,-0.0322271,-0.0543927,0.1295634,0.0496112,-0.0718511,-0.125188,-0.0891178,0.0548559,-0.0299081,-0.1574003,-0.2965011,0.0184325,-0.0818216,0.0906699,0.0108578,0.1087559,-0.0009682,-0.2784291,0.1124419,0.2689047,-0.1040281,-0.0836418,0.0693767,0.0442929,0.3459847}'),
	('cls', 2, E'Kubernetes autoscaling adjusts replicas to load.', '{-0.0408489,0.2303546,-0.113788,-0.1050589,0.0635421,-0.1634742,-0.0452006,-0.0450277,-0.0565512,-0.0357389,0.1812041,0.069196,-0.1240342,-0.0154845,0.1997018,-0.0133531,-0.1016229,0.0185338,-0.114691,-0.1107676,-0.1325673,0.2057021,0.2351263,-0.0131902,-0.1235981,-0.013036,-0.0623852,-0.0799677,0.0148039,-0.0973843,0.1020372,0.1903774,0.036163,0.0115835,-0.1006977,0.1501193,0.0901565,0.0362323,-0.0200254,-0.0199135,-0.061997,0.1359839,0.0258274,-0.0688937,-0.1080313,-0.0856196,0.0473564,-0.0206069,-0.1471791,-0.3010717,0.0161151,-0.100461,0.090184,0.0217444,0.1094691,-0.02614,-0.257722,0.0986853,0.281877,-0.1101987,-0.0962736,0.063096,0.040272,0.3671572}'),
	('cls', 3, E'Café naïve 東京', '{-0.0533556,0.2476815,-0.1255158,-0.1204918,0.05943,-0.1629766,-0.023106,-0.0506539,-0.0511957,-0.0807548,0.1856401,0.0901556,-0.1417262,0.0042817,0.1790074,-0.0661291,-0.1031154,0.0429294,-0.1216567,-0.096514,-0.1497177,0.1848264,0.1921627,-0.0341457,-0.1037647,-0.0135807,-0.0900806,-0.0615089,-0.0038863,-0.0814359,0.155832,0.1906551,0.0401907,0.0040963,-0.1130948,0.1577868,0.1075117,0.0101445,-0.0400491,-0.0377973,-0.0437818,0.1528651,0.0593127,-0.0707728,-0.1187765,-0.0756976,0.054571,-0.0122142,-0.1345201,-0.2612507,-0.0022982,-0.1222889,0.0753266,0.043924,0.1154434,-0.009437,-0.2287207,0.1084142,0.2833644,-0.1149052,-0.1140801,0.0818145,0.046927,0.3607026}'),
	('cls', 4, E'short', '{-0.0580912,0.2312412,-0.1060795,-0.0954536,0.0819117,-0.1699263,-0.0164333,-0.0500409,-0.0275882,-0.0888227,0.188225,0.0707335,-0.1150868,0.031926,0.2139959,-0.0783017,-0.1156957,0.0228318,-0.1425524,-0.1229211,-0.1525611,0.2466576,0.2246377,-0.0272075,-0.1083172,-0.014807,-0.1098754,-0.0641274,0.0137615,-0.0400158,0.1676126,0.1435661,0.0056317,0.0079144,-0.1664874,0.1461564,0.1178744,0.0344445,-0.0135269,-0.0488149,-0.0425889,0.1662479,0.0463639,-0.0782658,-0.1068432,-0.0616727,0.0494714,-0.0186679,-0.1305418,-0.2611626,0.0275475,-0.1015911,0.0443021,0.054601,0.0548695,-0.0094654,-0.2339958,0.105274,0.2507655,-0.0939222,-0.1379886,0.0495038,0.0728494,0.3385217}');
SELECT model, n, 1 - (mlops.embed(model, input) <=> emb::real[]::vector) >= 0.99999 AS close,
	   vector_dims(mlops.embed(model, input)) = cardinality(emb) AS dims
  FROM egolden ORDER BY model, n;
-- one batched request gives the same vectors, in input order
SELECT g.model, min(1 - (e.v <=> mlops.embed(g.model, g.input))) > 0.999999 AS batched_same, count(*) AS n
  FROM (SELECT model, array_agg(input ORDER BY n) AS inputs FROM egolden GROUP BY model) b,
	   unnest(mlops.embed(b.model, b.inputs)) WITH ORDINALITY AS e(v, i)
	   JOIN egolden g ON g.n = e.i - 1
 WHERE g.model = b.model
 GROUP BY g.model ORDER BY g.model;
SELECT mlops.embed('mean', '{}'::text[]);

-- chat renders the model's template (the Llama 3 one) and generates
SELECT r -> 'message' ->> 'role' AS role,
	   r ->> 'finish_reason' AS finish,
	   (r -> 'usage' ->> 'prompt_tokens')::int = cardinality(mlops.tokenize('llama3-chat-f32',
			E'<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nExplain Kubernetes autoscaling.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n')) AS prompt_tokens,
	   (r -> 'usage' ->> 'completion_tokens')::int AS completion_tokens,
	   (r -> 'usage' ->> 'total_tokens')::int = (r -> 'usage' ->> 'prompt_tokens')::int + 8 AS total,
	   r ->> 'model' AS model, r -> 'version' AS version,
	   (r ->> 'ttft_ms')::float8 <= (r ->> 'total_ms')::float8 AS timing
  FROM mlops.chat('llama3chat', '[{"role": "user", "content": "Explain Kubernetes autoscaling."}]',
				  '{"max_tokens": 8, "ignore_eos": true}') AS r;
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"max_tokens": 6}') -> 'message'
	 = mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"max_tokens": 6}') -> 'message' AS deterministic;
-- stop strings in chat options: a list, cut before the first found
WITH r AS (SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]',
						   '{"max_tokens": 6, "ignore_eos": true}') -> 'message' ->> 'content' AS reply)
SELECT length(reply) >= 4 AS long_enough,
	   mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]',
				  jsonb_build_object('max_tokens', 6, 'ignore_eos', true,
									 'stop', jsonb_build_array('zzzq', substr(reply, 3, 2)))) -> 'message' ->> 'content'
		 = left(reply, strpos(reply, substr(reply, 3, 2)) - 1) AS cut,
	   mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]',
				  '{"max_tokens": 6, "ignore_eos": true, "stop": ["zzzq", "qqqz"]}') -> 'message' ->> 'content'
		 = reply AS not_found
  FROM r;

-- sampling: a seed makes it reproducible; options add top_k, min_p and the penalty
SELECT mlops.generate('llama', 'The quick brown', 12, 0.9, 0.95, 42, options => '{"top_k": 50, "repetition_penalty": 1.2}')
	 = mlops.generate('llama', 'The quick brown', 12, 0.9, 0.95, 42, options => '{"top_k": 50, "repetition_penalty": 1.2}') AS same_seed;
SELECT count(DISTINCT mlops.generate('llama', 'The quick brown', 12, 1.5, 1, s, options => '{"ignore_eos": true}')) > 1 AS seeds_differ
  FROM generate_series(1, 6) s;
-- stop strings cut the text before the stop string
SELECT g.model, mlops.generate(g.model, g.prompt, 16, stop => ARRAY[substr(t.full, 6, 2)], options => '{"ignore_eos": true}')
		 = left(t.full, strpos(t.full, substr(t.full, 6, 2)) - 1) AS cut
  FROM golden g, LATERAL (SELECT mlops.detokenize(g.dir, g.ids, true) AS full) t
 WHERE g.n = 0 ORDER BY g.model;
-- streams through cursors: read in parts with other set-returning
-- functions in between, closed early, and the rest of the text unchanged
DECLARE c1 CURSOR FOR SELECT mlops.generate_stream('llama', 'The quick brown fox', 16,
	stop => ARRAY['zzzq', 'qqq'], options => '{"ignore_eos": true}') AS p;
FETCH 2 FROM c1 \g /dev/null
SELECT count(*) FROM regexp_matches(repeat('abc', 300), '(a)(b)(c)', 'g');
SELECT count(*) FROM jsonb_path_query('{"a": [1, {"b": [2, 3]}]}', '$.**');
FETCH ALL FROM c1 \g /dev/null
CLOSE c1;
DECLARE c2 CURSOR FOR SELECT mlops.generate_stream('llama', 'The quick', 5) AS p;
FETCH ALL FROM c2 \g /dev/null
SELECT count(*) FROM regexp_split_to_table(repeat('abc ', 300), ' ');
CLOSE c2;
DECLARE c3 CURSOR FOR SELECT mlops.generate_stream('llama', 'The quick', 40, options => '{"ignore_eos": true}') AS p;
FETCH 1 FROM c3 \g /dev/null
CLOSE c3;
SELECT (SELECT string_agg(p, '') FROM mlops.generate_stream('llama', 'The quick', 16, options => '{"ignore_eos": true}') p)
	 = mlops.generate('llama', 'The quick', 16, options => '{"ignore_eos": true}') AS same_after_cursors;
SELECT count(*) FROM (SELECT mlops.generate_stream('llama', 'The quick', 16, options => '{"ignore_eos": true}') LIMIT 2) s;
-- the worker drops closed streams at its next pass
DO $$
BEGIN
	FOR i IN 1..100 LOOP
		EXIT WHEN (SELECT sum(kv_pages_used) FROM mlops.worker_status WHERE model = 'llama') = 0;
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SELECT kv_pages_used, model_running FROM mlops.worker_status WHERE model = 'llama' AND version = 1;
SELECT mlops.generate('llama', 'The quick brown', 0) = '' AS empty_when_zero;
SELECT mlops.generate(NULL, 'x') IS NULL AS null_model, mlops.generate('llama', NULL) IS NULL AS null_prompt;

-- versions: a new registration does not move production; name@N names it
SELECT mlops.register_model('llama', 'llama-tiny-f32', task => 'text-generation', options => '{"kv_cache_mb": 8}');
SELECT mlops.generate('llama@2', 'The quick', 4) = mlops.generate('llama', 'The quick', 4) AS same_files;
SELECT model, alias, version FROM mlops.model_aliases WHERE model = 'llama';
SELECT mlops.deploy('llama', 2);
SELECT mlops.load_model('llama'), mlops.load_model('mean');
SELECT model, version, task, kv_pages_used, model_running, queue_depth, in_flight,
	   memory_used > 0 AS mem, device IS NOT NULL AS dev
  FROM mlops.worker_status WHERE model IN ('llama', 'mean') ORDER BY model, version;
SELECT mlops.unload_model('mean'), mlops.unload_model('mean');
-- the registry's views and functions know served models
SELECT model, version, key_metric, key_metric_value FROM mlops.version_list
 WHERE model IN ('llama', 'mean') ORDER BY model, version;
SELECT mlops.deploy('llama', 1, strategy => 'best');
SELECT mlops.predict('llama', ARRAY[1, 2]::real[]);
SELECT mlops.rollback('llama');

-- bad input: clear errors, nothing registered
SELECT mlops.generate('nope', 'x');
SELECT mlops.generate('llama', '');
SELECT mlops.generate('llama', repeat('fox ', 400));
SELECT mlops.generate('llama', 'x', temperature => -1);
SELECT mlops.generate('llama', 'x', top_p => 0);
SELECT mlops.generate('llama', 'x', max_tokens => -1);
SELECT mlops.generate('llama', 'x', options => '{"top_k": -3}');
SELECT mlops.generate('llama', 'x', options => '{"max_tokens": 3}');
SELECT mlops.generate('llama', 'x', options => '[1]');
SELECT mlops.generate('llama', 'x', stop => ARRAY[''::text]);
SELECT mlops.generate('mean', 'x');
SELECT mlops.embed('llama', 'x');
SELECT mlops.embed('mean', '');
SELECT mlops.embed('mean', ARRAY['a', NULL]);
SELECT mlops.chat('llama', '[{"role": "user", "content": "hi"}]');
SELECT mlops.chat('llama3chat', '{"role": "user"}');
SELECT mlops.chat('llama3chat', '[]');
SELECT mlops.chat('llama3chat', '[{"role": "user"}]');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": 3}]');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"temperature": "hot"}');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"bogus": 1}');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"stop": ["a", ["b"]]}');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"stop": ["a", 1]}');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"stop": {"a": 1}}');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"max_tokens": 1.5}');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"seed": "1"}');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"max_tokens": 1e400}');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"max_tokens": 1e-400}');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"temperature": 1e400}');
SELECT mlops.chat('llama3chat', '[{"role": "user", "content": "hi"}]', '{"temperature": -1e400}');
SELECT mlops.register_model('x', 'llama-tiny-f32', task => 'regression');
SELECT mlops.register_model('x', 'no-such-model', task => 'text-generation');
SELECT mlops.register_model('x', '../fixtures/llama-tiny-f32', task => 'text-generation');
SELECT mlops.register_model('x', 'bert-tiny-mean', task => 'text-generation');
SELECT mlops.register_model('x', 'llama-tiny-f32', task => 'embedding');
SELECT mlops.register_model('x', 'tok-gpt2', task => 'text-generation');
SELECT mlops.register_model('x', 'tok-gpt2', task => 'embedding');
SELECT mlops.register_model('x', 'llama-tiny-f32', task => 'text-generation', options => '{"dtype": "f8"}');
SELECT mlops.register_model('x', 'llama-tiny-f32', task => 'text-generation', options => '{"batch": 1}');
SELECT mlops.register_model('x', 'llama-tiny-f32', task => 'text-generation', options => '{"dtype": 16}');
SELECT mlops.register_model('x', 'llama-tiny-f32', task => 'text-generation', options => '{"kv_cache_mb": 1.5}');
SELECT mlops.register_model('x', 'llama-tiny-f32', task => 'text-generation', options => '{"kv_cache_mb": 0}');
SELECT mlops.register_model('bad name', 'llama-tiny-f32', task => 'text-generation');
SELECT mlops.register_model('mean', 'llama-tiny-f32', task => 'text-generation');
SELECT count(*) AS versions FROM mlops.model_versions WHERE device IN ('local', 'remote');
SELECT mlops.load_model('nope');

-- privileges: generation needs mlops_user, registration mlops_admin
CREATE ROLE llm_nobody;
CREATE ROLE llm_user IN ROLE mlops_user;
SET ROLE llm_nobody;
SELECT mlops.generate('llama', 'The quick', 4);
SELECT * FROM mlops.worker_status;
SET ROLE llm_user;
SELECT length(mlops.generate('llama', 'The quick', 4)) > 0 AS user_generates;
SELECT vector_dims(mlops.embed('cls', 'hello')) > 0 AS user_embeds;
SELECT mlops.register_model('y', 'llama-tiny-f32', task => 'text-generation');
SELECT mlops.unload_model('llama');
RESET ROLE;
ROLLBACK;
