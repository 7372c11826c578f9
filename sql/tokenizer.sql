-- mlops.tokenize, mlops.detokenize and mlops.count_tokens on the reference
-- tokenizers and models of test/data/fixtures.  The expected ids are those
-- of the fixtures' tokenizer_golden.json and golden.json, which the Hugging
-- Face tokenizers library produced (its encode() adds special tokens).

-- models are disabled until a superuser sets mlops.model_dir
RESET mlops.model_dir;
SELECT mlops.tokenize('tok-gpt2', 'Hello world');

\getenv abs_srcdir PG_ABS_SRCDIR
SELECT :'abs_srcdir' || '/test/data/fixtures' AS model_dir \gset
SET mlops.model_dir = :'model_dir';

CREATE TEMP TABLE tok (m text);
INSERT INTO tok VALUES ('tok-gpt2'), ('tok-llama3'), ('tok-qwen2'), ('tok-spm'), ('tok-wordpiece');

-- the probe strings of tokenizer_golden.json
CREATE TEMP TABLE probe (n int, t text);
INSERT INTO probe VALUES
	(1, 'Hello world'),
	(2, 'The quick brown fox jumps over the lazy dog.'),
	(3, '  leading and   multiple   spaces  '),
	(4, 'Numbers: 12345 and 3.14159, dates 2026-11-29!'),
	(5, E'def f(x):\n\treturn x**2  # comment\n'),
	(6, 'Café naïve façade — 東京 😀 émigré'),
	(7, 'I''m can''t won''t they''ll we''ve you''d'),
	(8, 'MLOps: Data -> Features -> Training -> Deployment -> Prediction'),
	(9, ''),
	(10, 'a');

-- ids with special tokens, as tokenizer_golden.json has them
SELECT m, n, mlops.tokenize(m, t, true) AS ids FROM tok, probe ORDER BY m, n;

-- decoding without special tokens gives the golden "decoded" text
SELECT m, n, mlops.detokenize(m, mlops.tokenize(m, t, true), true) AS decoded
FROM tok, probe ORDER BY m, n;

-- the byte-level and SentencePiece tokenizers round-trip every probe when
-- special tokens are kept (SentencePiece's byte-fallback tokens, such as
-- the tab's <0x09>, are special tokens of tok-spm)
SELECT m, n FROM tok, probe
WHERE m <> 'tok-wordpiece'
  AND mlops.detokenize(m, mlops.tokenize(m, t)) IS DISTINCT FROM t
ORDER BY m, n;

-- without special tokens (the default): no BOS, no [CLS] ... [SEP]
SELECT m, mlops.tokenize(m, 'Hello world') AS ids FROM tok ORDER BY m;
SELECT m, n FROM tok, probe
WHERE mlops.tokenize(m, t, true) IS DISTINCT FROM
	CASE m WHEN 'tok-spm' THEN '{1}' || mlops.tokenize(m, t)
		   WHEN 'tok-wordpiece' THEN '{2}' || mlops.tokenize(m, t) || '{3}'
		   ELSE mlops.tokenize(m, t) END
ORDER BY m, n;

-- special tokens are kept by default when decoding
SELECT mlops.detokenize('tok-wordpiece', mlops.tokenize('tok-wordpiece', 'Hello world', true));
SELECT mlops.detokenize('tok-wordpiece', mlops.tokenize('tok-wordpiece', 'Hello world', true), true);
SELECT mlops.detokenize('tok-spm', mlops.tokenize('tok-spm', 'Hello world', true));
SELECT mlops.detokenize('tok-spm', mlops.tokenize('tok-spm', 'Hello world', true), true);

-- special tokens in the input are recognized as such
SELECT mlops.tokenize('tok-qwen2', '<|im_start|>user') =
	mlops.tokenize('tok-qwen2', '<|im_start|>') || mlops.tokenize('tok-qwen2', 'user') AS split_out;
SELECT array_length(mlops.tokenize('tok-qwen2', '<|im_start|>'), 1) AS one_token;
SELECT mlops.detokenize('tok-qwen2', mlops.tokenize('tok-qwen2', '<|im_start|>user<|im_end|>'));
SELECT mlops.detokenize('tok-qwen2', mlops.tokenize('tok-qwen2', '<|im_start|>user<|im_end|>'), true);

-- count_tokens is the length of tokenize
SELECT m, n FROM tok, probe
WHERE mlops.count_tokens(m, t) <> coalesce(array_length(mlops.tokenize(m, t), 1), 0)
   OR mlops.count_tokens(m, t, true) <> coalesce(array_length(mlops.tokenize(m, t, true), 1), 0)
ORDER BY m, n;
SELECT m, mlops.count_tokens(m, 'Hello world') AS plain,
	mlops.count_tokens(m, 'Hello world', true) AS special
FROM tok ORDER BY m;
SELECT mlops.count_tokens('tok-gpt2', repeat(' Hello world', 10000)) =
	10000 * mlops.count_tokens('tok-gpt2', ' Hello world') AS repeats;

-- model directories use their tokenizer.json (ids of their golden.json);
-- more than eight models in one session cycle through the cache
SELECT m, mlops.tokenize(m, 'The quick brown fox jumps over the lazy dog.', true) AS ids
FROM (VALUES ('llama-tiny-f32'), ('llama-tiny-bf16'), ('llama3-tiny-f32'), ('qwen2-tiny-f32'),
		('mistral-tiny-f32'), ('bert-tiny-mean'), ('bert-tiny-cls')) v(m)
ORDER BY m;
SELECT mlops.tokenize('llama-tiny-f32', E'def f(x):\n\treturn x**2', true);
SELECT mlops.tokenize('bert-tiny-mean', 'Café naïve 東京', true);
SELECT m, n FROM tok, probe
WHERE mlops.tokenize(m, t, true) IS DISTINCT FROM
	mlops.tokenize(CASE m WHEN 'tok-gpt2' THEN 'tok-gpt2' WHEN 'tok-llama3' THEN 'llama3-tiny-f32'
		WHEN 'tok-qwen2' THEN 'qwen2-tiny-f32' WHEN 'tok-spm' THEN 'mistral-tiny-f32'
		ELSE 'bert-tiny-cls' END, t, true)
ORDER BY m, n;

-- a model name may name a directory below mlops.model_dir in any way that
-- stays inside it
SELECT mlops.count_tokens('./tok-gpt2', 'Hello world'), mlops.count_tokens('tok-gpt2/', 'Hello world'),
	mlops.count_tokens('tok-gpt2//.', 'Hello world');

-- model names
SELECT mlops.tokenize('', 'x');
SELECT mlops.tokenize('/tok-gpt2', 'x');
SELECT mlops.tokenize('../fixtures/tok-gpt2', 'x');
SELECT mlops.tokenize('tok-gpt2/..', 'x');
SELECT mlops.tokenize('bert-tiny-mean/1_Pooling/../../tok-gpt2', 'x');
SELECT mlops.tokenize('.', 'x');
SELECT mlops.tokenize('no-such-model', 'x');
SELECT mlops.tokenize('tok-gpt2/tokenizer.json', 'x');
SELECT mlops.tokenize('bert-tiny-mean/1_Pooling', 'x');
SELECT mlops.count_tokens('no-such-model', 'x');
SELECT mlops.detokenize('no-such-model', '{1}');
SET mlops.model_dir = 'relative/path';

-- token ids
SELECT mlops.detokenize('tok-gpt2', '{}');
SELECT mlops.detokenize('tok-gpt2', '{40,NULL}');
SELECT mlops.detokenize('tok-gpt2', '{{40,69},{328,79}}');
SELECT mlops.detokenize('tok-gpt2', '{40,100000}');
SELECT mlops.detokenize('tok-gpt2', '{-1}');
SELECT mlops.detokenize('tok-gpt2', '[0:1]={40,69}');

-- bytes that do not form UTF-8 decode to U+FFFD, as in Hugging Face; the
-- byte 0x00 cannot be held by a text value
SELECT mlops.detokenize('tok-gpt2', '{128}');
SELECT mlops.detokenize('tok-gpt2', '{40,128,128,69}');
SELECT mlops.detokenize('tok-gpt2', '{189}');
SELECT mlops.detokenize('tok-spm', '{3}');
SELECT mlops.detokenize('tok-spm', '{3}', true) = '' AS skipped;

-- strict
SELECT mlops.tokenize(NULL, 'x'), mlops.tokenize('tok-gpt2', NULL),
	mlops.detokenize('tok-gpt2', NULL), mlops.count_tokens('tok-gpt2', NULL);

-- a long tokenization stops at a statement timeout (the engine polls for
-- interrupts); 240 MB take several seconds to tokenize
SET statement_timeout = '500ms';
SELECT mlops.count_tokens('tok-llama3', repeat('hello world ', 20000000));
RESET statement_timeout;

RESET mlops.model_dir;
SELECT mlops.count_tokens('tok-gpt2', 'Hello world');
