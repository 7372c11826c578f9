-- point-in-time joins: mlops.get_historical_features, create_training_set
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
CREATE SCHEMA fs_pit;
SET search_path = fs_pit, public;

-- entity "customer" (one integer key), entity "store_item" (text, integer)
SELECT mlops.create_entity('customer', ARRAY['customer_id']);
SELECT mlops.create_entity('store_item', ARRAY['store_id', 'item_id']);

CREATE TABLE cust_spend (customer_id int, ts timestamptz, spend numeric, visits int);
INSERT INTO cust_spend VALUES
	(1, '2024-01-01 10:00', 10, 1),
	(1, '2024-01-02 10:00', 20, 2),
	(1, '2024-01-03 10:00', 30, 3),
	(2, '2024-01-01 00:00', 5, 1),
	(2, '2024-01-02 00:00', NULL, 2),		-- a NULL value is a value
	(3, '2024-01-05 00:00', 99, 9),			-- only after every event
	(4, '2023-12-01 00:00', 7, 7),			-- older than the ttl
	(NULL, '2024-01-01 00:00', 1000, 1000),	-- a NULL key matches nothing
	(1, NULL, 2000, 2000);					-- no timestamp: never seen
CREATE TABLE cust_profile (customer_id bigint, updated date, tier text, visits int);
INSERT INTO cust_profile VALUES
	(1, '2023-06-01', 'silver', 100),
	(1, '2024-01-02', 'gold', 150),
	(2, '2024-01-10', 'bronze', 5),
	(4, '2020-01-01', 'basic', 1);
CREATE TABLE item_price (store_id text, item_id int, ts timestamp, price float8);
INSERT INTO item_price VALUES
	('s1', 1, '2024-01-01 00:00', 1.5),
	('s1', 1, '2024-01-02 12:00', 1.75),
	('s1', 2, '2024-01-01 00:00', 9),
	('s2', 1, '2024-01-02 00:00', 3);

SELECT mlops.create_feature_view('spend', 'customer', 'cust_spend', 'ts',
								 ARRAY['spend', 'visits'], ttl => interval '2 days');
SELECT mlops.create_feature_view('profile', 'customer', 'cust_profile', 'updated',
								 ARRAY['tier', 'visits']);
SELECT mlops.create_feature_view('price', 'store_item', 'item_price', 'ts',
								 ARRAY['price'], ttl => interval '1 day');

CREATE TABLE train_events (id int, customer_id int, store_id text, item_id int,
						   event_timestamp timestamptz, label bool);
INSERT INTO train_events VALUES
	(1, 1, 's1', 1, '2024-01-02 10:00', true),		-- exactly at a spend row
	(2, 1, 's1', 1, '2024-01-02 13:00', false),
	(3, 1, 's1', 2, '2024-01-03 09:59:59.999999', true),	-- 1 us before a spend row
	(4, 1, 's2', 1, '2024-01-06 10:00', false),		-- spend older than 2 days
	(5, 1, 's2', 1, '2024-01-05 10:00', true),		-- spend exactly 2 days old
	(6, 2, 's2', 1, '2024-01-03 00:00', false),
	(7, 3, 's1', 2, '2024-01-04 00:00', true),
	(8, 4, 's2', 1, '2024-01-01 00:00', false),
	(9, 5, 's3', 1, '2024-01-02 00:00', true),		-- keys with no feature rows
	(10, NULL, 's1', 1, '2024-01-02 00:00', false),
	(11, 1, NULL, 1, NULL, true);

SELECT mlops.historical_features_columns('train_events',
	ARRAY['spend:spend', 'spend:visits', 'profile:tier', 'profile:visits', 'price:price']);

-- The result, reasoned by hand (spend ttl 2 days, profile none, price 1 day):
--  1: spend 01-02 10:00 (at the event) 20/2; gold/150 (01-02 00:00); price s1/1
--     01-01 00:00 is older than 01-01 10:00: NULL
--  2: spend 20/2; gold/150; price 01-02 12:00: 1.75
--  3: spend 01-02 10:00 (01-03 10:00 is 1 us later) 20/2; gold/150; s1/2 NULL
--  4: spend 01-03 10:00 < 01-04 10:00: NULL/NULL; gold/150; s2/1 01-02: NULL
--  5: spend 01-03 10:00 = 01-05 10:00 - 2 days: 30/3; gold/150; s2/1 NULL
--  6: spend 01-02 00:00: NULL/2; profile only on 01-10: NULL; s2/1 01-02 00:00
--     = 01-03 00:00 - 1 day: 3
--  7: spend only on 01-05: NULL; no profile; s1/2 01-01: NULL
--  8: spend 2023-12-01: NULL; basic/1 (no ttl); s2/1 only later: NULL
--  9: nothing for customer 5 or store s3
-- 10: NULL customer: NULL; s1/1 01-01 00:00 = 01-02 00:00 - 1 day: 1.5
-- 11: NULL event timestamp: nothing
SELECT * FROM mlops.get_historical_features('train_events',
	ARRAY['spend:spend', 'spend:visits', 'profile:tier', 'profile:visits', 'price:price'])
	AS t(id integer, customer_id integer, store_id text, item_id integer,
		 event_timestamp timestamp with time zone, label boolean, spend numeric,
		 spend__visits integer, tier text, profile__visits integer, price double precision)
ORDER BY id;

-- late-arriving rows: inserted now with earlier timestamps; one ties with
-- (1, 01-03 10:00): the row read last wins
INSERT INTO cust_spend VALUES (1, '2024-01-02 12:00', 25, 25), (1, '2024-01-03 10:00', 31, 31);
-- 1: still 20/2 (12:00 is later); 2 and 3: 25/25; 5: 31/31
SELECT id, spend, visits FROM mlops.get_historical_features('train_events', ARRAY['spend:*'])
	AS t(id int, customer_id int, store_id text, item_id int, event_timestamp timestamptz,
		 label bool, spend numeric, visits int)
ORDER BY id;

-- a query as entities, a date event column, a service
SELECT mlops.create_feature_service('churn', ARRAY['profile:tier', 'spend:spend']);
SELECT * FROM mlops.get_historical_features(
	'SELECT customer_id, event_timestamp::date AS day FROM train_events WHERE id <= 3 ORDER BY id',
	ARRAY['service:churn'], 'day')
	AS t(customer_id int, day date, tier text, spend numeric);

-- create_training_set: a table usable as a training source, recorded with pins
SELECT mlops.create_training_set('churn_ts', 'train_events', ARRAY['service:churn', 'price:price']);
SELECT id, tier, spend, price FROM churn_ts ORDER BY id;
SELECT name, relid = 'churn_ts'::regclass AS relid_ok, entities, features, event_timestamp_column,
	   row_count, checksum = mlops.training_set_checksum('churn_ts') AS checksum_ok,
	   length(checksum)
  FROM mlops.training_sets;
-- the checksum ignores row order and session settings, and sees any change
CREATE TABLE churn_copy AS SELECT * FROM churn_ts ORDER BY id DESC;
SET TimeZone = 'Asia/Tokyo';
SELECT mlops.training_set_checksum('churn_copy') = checksum AS same_rows FROM mlops.training_sets;
SET TimeZone = 'UTC';
UPDATE churn_copy SET spend = 21 WHERE id = 1;
SELECT mlops.training_set_checksum('churn_copy') = checksum AS same_rows FROM mlops.training_sets;
-- a redefinition of a view does not change what a training set recorded
SELECT mlops.create_feature_view('spend', 'customer', 'cust_spend', 'ts',
								 ARRAY['spend * 2 AS spend'], ttl => interval '2 days');
SELECT mlops.create_training_set('fs_pit.churn_ts2', 'train_events', ARRAY['spend@1:spend', 'spend@2:spend']);
SELECT mlops.create_training_set('churn_ts2', 'train_events', ARRAY['spend@2:spend']);
SELECT id, spend FROM churn_ts2 WHERE id IN (1, 5) ORDER BY id;
SELECT features FROM mlops.training_sets WHERE name = 'fs_pit.churn_ts2';

-- leakage: outcome i of a customer becomes known 1 s after its event; the
-- feature "outcome" must never be the event's own (later) outcome
SELECT setseed(0.42);
CREATE TABLE outcomes AS
SELECT (random() * 200)::int AS customer_id,
	   timestamptz '2024-01-01' + i * interval '17 seconds' AS ts, i AS outcome
  FROM generate_series(1, 5000) i;
CREATE TABLE leak_events AS
SELECT customer_id, ts - interval '1 second' AS event_timestamp, outcome AS label FROM outcomes;
SELECT mlops.create_feature_view('outcome', 'customer', 'outcomes', 'ts',
								 ARRAY['outcome', 'ts AS outcome_ts']);
SELECT count(*) AS joined,
	   count(*) FILTER (WHERE outcome = label) AS leaked,
	   count(*) FILTER (WHERE outcome_ts > event_timestamp) AS from_the_future,
	   count(outcome) > 4000 AS mostly_found
  FROM mlops.get_historical_features('leak_events', ARRAY['outcome:*'])
	AS t(customer_id int, event_timestamp timestamptz, label int, outcome int,
		 outcome_ts timestamptz);

-- the same as the LATERAL query a user would write, on generated data
CREATE TABLE gen_a AS
SELECT (random() * 300)::int AS k, timestamptz '2024-01-01' + i * interval '1 minute' AS ts,
	   CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 100)::numeric, 2) END AS a
  FROM generate_series(1, 6000) i;
CREATE TABLE gen_b AS
SELECT (random() * 300)::int AS k, 'g' || (random() * 3)::int AS g,
	   (timestamptz '2024-01-01' + i * interval '50 seconds')::timestamp AS ts,
	   md5(i::text) AS b
  FROM generate_series(1, 6000) i;
CREATE TABLE gen_e AS
SELECT i AS id, (random() * 320)::int AS k, 'g' || (random() * 3)::int AS g,
	   timestamptz '2024-01-01' + random() * interval '5 days' AS event_timestamp
  FROM generate_series(1, 3000) i;
CREATE INDEX ON gen_a (k, ts);
CREATE INDEX ON gen_b (k, g, ts);
SELECT mlops.create_entity('gk', ARRAY['k']);
SELECT mlops.create_entity('gkg', ARRAY['k', 'g']);
SELECT mlops.create_feature_view('gen_a', 'gk', 'gen_a', 'ts', ARRAY['a'], ttl => interval '12 hours');
SELECT mlops.create_feature_view('gen_b', 'gkg', 'gen_b', 'ts', ARRAY['b']);
CREATE TEMP TABLE pit AS
SELECT * FROM mlops.get_historical_features('gen_e', ARRAY['gen_a:a', 'gen_b:b'])
	AS t(id int, k int, g text, event_timestamp timestamptz, a numeric, b text);
CREATE TEMP TABLE lat AS
SELECT e.*, fa.a, fb.b
  FROM gen_e e
  LEFT JOIN LATERAL (SELECT s.a FROM gen_a s
					  WHERE s.k = e.k AND s.ts <= e.event_timestamp
						AND s.ts >= e.event_timestamp - interval '12 hours'
					  ORDER BY s.ts DESC LIMIT 1) fa ON true
  LEFT JOIN LATERAL (SELECT s.b FROM gen_b s
					  WHERE s.k = e.k AND s.g = e.g AND s.ts <= e.event_timestamp
					  ORDER BY s.ts DESC LIMIT 1) fb ON true;
SELECT (SELECT count(*) FROM pit) AS rows,
	   (SELECT count(*) FROM (TABLE pit EXCEPT ALL TABLE lat) d) AS only_pit,
	   (SELECT count(*) FROM (TABLE lat EXCEPT ALL TABLE pit) d) AS only_lateral,
	   (SELECT count(a) > 0 AND count(b) > 0 FROM pit) AS found_values;

-- sparse bigint keys, more of them than a WHERE key = ANY list takes:
-- every source row is read and keys are hashed
CREATE TABLE gen_s AS
SELECT (1 + (random() * 5000)::int)::bigint * 1000000007 AS k,
	   timestamptz '2024-01-01' + i * interval '30 seconds' AS ts, i AS s
  FROM generate_series(1, 10000) i;
CREATE TABLE gen_se AS
SELECT i::bigint * 1000000007 AS k,
	   timestamptz '2024-01-01' + random() * interval '4 days' AS event_timestamp
  FROM generate_series(1, 5000) i;
CREATE INDEX ON gen_s (k, ts);
SELECT mlops.create_feature_view('gen_s', 'gk', 'gen_s', 'ts', ARRAY['s'], ttl => interval '1 day');
CREATE TEMP TABLE pit_s AS
SELECT * FROM mlops.get_historical_features('gen_se', ARRAY['gen_s:s'])
	AS t(k bigint, event_timestamp timestamptz, s int);
CREATE TEMP TABLE lat_s AS
SELECT e.*, (SELECT x.s FROM gen_s x WHERE x.k = e.k AND x.ts <= e.event_timestamp
								 AND x.ts >= e.event_timestamp - interval '1 day'
			  ORDER BY x.ts DESC LIMIT 1) AS s
  FROM gen_se e;
SELECT (SELECT count(*) FROM pit_s) AS rows,
	   (SELECT count(*) FROM (TABLE pit_s EXCEPT ALL TABLE lat_s) d) AS only_pit,
	   (SELECT count(*) FROM (TABLE lat_s EXCEPT ALL TABLE pit_s) d) AS only_lateral,
	   (SELECT count(s) > 1000 FROM pit_s) AS found_values;

-- a ttl in days follows the calendar of the session's time zone, as
-- "event_timestamp - ttl" does in SQL: on the day DST starts in New York,
-- 1 day before 2024-03-10 07:30 UTC is 2024-03-09 08:30 UTC (23 hours)
CREATE TABLE dst_src (k int, ts timestamptz, v int);
INSERT INTO dst_src VALUES (1, '2024-03-09 08:00+00', 7);
SELECT mlops.create_feature_view('dst', 'gk', 'dst_src', 'ts', ARRAY['v'], ttl => interval '1 day');
SET TimeZone = 'America/New_York';
SELECT v, timestamptz '2024-03-09 08:00+00' >= timestamptz '2024-03-10 07:30+00' - interval '1 day' AS sql_says
  FROM mlops.get_historical_features('SELECT 1 AS k, timestamptz ''2024-03-10 07:30+00'' AS event_timestamp',
									 ARRAY['dst:v']) AS t(k int, event_timestamp timestamptz, v int);
SET TimeZone = 'UTC';
SELECT v, timestamptz '2024-03-09 08:00+00' >= timestamptz '2024-03-10 07:30+00' - interval '1 day' AS sql_says
  FROM mlops.get_historical_features('SELECT 1 AS k, timestamptz ''2024-03-10 07:30+00'' AS event_timestamp',
									 ARRAY['dst:v']) AS t(k int, event_timestamp timestamptz, v int);

-- join keys compare as "view.key = entities.key" does in SQL, in the type
-- that comparison resolves to, never cast lossily into the view's type
SELECT mlops.create_entity('code', ARRAY['code']);
CREATE TABLE code_src (code varchar(3), ts timestamptz, v int);
INSERT INTO code_src VALUES ('abc', '2024-01-01', 1), ('ab', '2024-01-01', 2);
SELECT mlops.create_feature_view('code3', 'code', 'code_src', 'ts', ARRAY['v']);
-- text against varchar(3): 'abcdef' is not 'abc' (it was, truncated), and
-- 'ab ' is not 'ab'; against a char(6) the comparison is char's, where
-- trailing spaces do not count
CREATE TABLE code_e (id int, code text, event_timestamp timestamptz);
INSERT INTO code_e VALUES (1, 'abcdef', '2024-02-01'), (2, 'abc', '2024-02-01'),
	(3, 'ab ', '2024-02-01'), (4, 'ab', '2024-02-01'), (5, NULL, '2024-02-01');
CREATE TABLE code_ce (id int, code char(6), event_timestamp timestamptz);
INSERT INTO code_ce VALUES (1, 'abc', '2024-02-01'), (2, 'abcdef', '2024-02-01'), (3, 'ab', '2024-02-01');
SELECT t.id, t.code, t.v,
	   (SELECT s.v FROM code_src s WHERE s.code = e.code ORDER BY s.ts DESC LIMIT 1) AS lateral_v
  FROM mlops.get_historical_features('code_e', ARRAY['code3:v'])
	AS t(id int, code text, event_timestamp timestamptz, v int)
  JOIN code_e e USING (id) ORDER BY id;
SELECT t.id, t.code, t.v,
	   (SELECT s.v FROM code_src s WHERE s.code = e.code ORDER BY s.ts DESC LIMIT 1) AS lateral_v
  FROM mlops.get_historical_features('code_ce', ARRAY['code3:v'])
	AS t(id int, code char(6), event_timestamp timestamptz, v int)
  JOIN code_ce e USING (id) ORDER BY id;
-- numeric against an integer key: 1.5 is not 2 (it was, rounded); NaN and
-- 1e30 match nothing
CREATE TABLE num_e (id int, customer_id numeric, event_timestamp timestamptz);
INSERT INTO num_e VALUES (1, 1.5, '2024-01-02 12:00'), (2, 2.0, '2024-01-02 12:00'),
	(3, 1, '2024-01-02 12:00'), (4, 'NaN', '2024-01-02 12:00'), (5, 1e30, '2024-01-02 12:00'),
	(6, 0.999999999999999999999, '2024-01-02 12:00'), (7, -1e30, '2024-01-02 12:00');
SELECT t.id, t.customer_id, t.visits,
	   (SELECT s.visits FROM cust_spend s WHERE s.customer_id = e.customer_id
		   AND s.ts <= e.event_timestamp AND s.ts >= e.event_timestamp - interval '2 days'
		 ORDER BY s.ts DESC LIMIT 1) AS lateral_visits
  FROM mlops.get_historical_features('num_e', ARRAY['spend@1:visits'])
	AS t(id int, customer_id numeric, event_timestamp timestamptz, visits int)
  JOIN num_e e USING (id) ORDER BY id;
-- bigint against an integer key: out of its range matches nothing (it was
-- an "integer out of range" error), with and without WHERE key = ANY
CREATE TABLE big_e (id int, customer_id bigint, event_timestamp timestamptz);
INSERT INTO big_e VALUES (1, 5000000000, '2024-01-02 12:00'), (2, 4294967297, '2024-01-02 12:00'),
	(3, 1, '2024-01-02 12:00'), (4, -2147483649, '2024-01-02 12:00');
SELECT id, customer_id, visits FROM mlops.get_historical_features('big_e', ARRAY['spend@1:visits'])
	AS t(id int, customer_id bigint, event_timestamp timestamptz, visits int) ORDER BY id;
CREATE TABLE big_ge AS
SELECT i AS id, CASE WHEN i % 2 = 0 THEN i % 300 ELSE i + 4294967296 END::bigint AS k,
	   timestamptz '2024-01-01' + random() * interval '5 days' AS event_timestamp
  FROM generate_series(1, 10000) i;
SELECT count(*) AS rows, count(a) FILTER (WHERE k > 300) AS wide_found,
	   count(*) FILTER (WHERE a IS DISTINCT FROM
						(SELECT s.a FROM gen_a s WHERE s.k = t.k AND s.ts <= t.event_timestamp
							AND s.ts >= t.event_timestamp - interval '12 hours'
						  ORDER BY s.ts DESC LIMIT 1)) AS differ
  FROM mlops.get_historical_features('big_ge', ARRAY['gen_a:a'])
	AS t(id int, k bigint, event_timestamp timestamptz, a numeric);
-- several keys, each cast as needed: varchar against text, numeric against
-- integer
CREATE TABLE item_e (id int, store_id varchar(2), item_id numeric, event_timestamp timestamptz);
INSERT INTO item_e VALUES (1, 's1', 1.0, '2024-01-02 13:00'), (2, 's1', 1.5, '2024-01-02 13:00'),
	(3, 's2', 1, '2024-01-02 13:00'), (4, 's1', 2, '2024-01-02 13:00'), (5, 's1', 1e30, '2024-01-02 13:00');
SELECT id, store_id, item_id, price FROM mlops.get_historical_features('item_e', ARRAY['price:price'])
	AS t(id int, store_id varchar(2), item_id numeric, event_timestamp timestamptz, price float8)
ORDER BY id;
-- keys SQL cannot compare are an error
SELECT * FROM mlops.get_historical_features(
	'SELECT ''1''::text AS customer_id, now() AS event_timestamp', ARRAY['spend@1:visits'])
	AS t(customer_id text, event_timestamp timestamptz, visits int);

-- bigint keys at both ends of the range (their span overflows int64: the
-- hash table, not an array, maps them), and entity keys none of which the
-- view has (no row kept)
SELECT mlops.create_entity('acct', ARRAY['acct_id']);
CREATE TABLE acct_src (acct_id bigint, ts timestamptz, amount float8);
INSERT INTO acct_src VALUES (-9223372036854775808, '2024-01-01', 1), (9223372036854775807, '2024-01-01', 2),
	(0, '2024-01-01', 3);
SELECT mlops.create_feature_view('acct', 'acct', 'acct_src', 'ts', ARRAY['amount']);
SELECT * FROM mlops.get_historical_features(
	'SELECT * FROM (VALUES (''-9223372036854775808''::bigint, timestamptz ''2024-02-01''),
						   (9223372036854775807, ''2024-02-01''), (1, ''2024-02-01''),
						   (-1, ''2024-02-01'')) v(acct_id, event_timestamp)',
	ARRAY['acct:amount']) AS t(acct_id bigint, event_timestamp timestamptz, amount float8);
SELECT * FROM mlops.get_historical_features(
	'SELECT * FROM (VALUES (7::bigint, timestamptz ''2024-02-01'')) v(acct_id, event_timestamp)',
	ARRAY['acct:amount']) AS t(acct_id bigint, event_timestamp timestamptz, amount float8);
SELECT * FROM mlops.get_historical_features(
	'SELECT * FROM (VALUES (''x''::text, timestamptz ''2024-02-01'')) v(code, event_timestamp)',
	ARRAY['code3:v']) AS t(code text, event_timestamp timestamptz, v int);

-- a cutoff (event timestamp - ttl) before the first timestamp there is
-- means no cutoff, as with a ttl of 200000 years (it was "timestamp out of
-- range"); a ttl in months follows the calendar, as in SQL
SELECT mlops.create_feature_view('acct_old', 'acct', 'acct_src', 'ts', ARRAY['amount'],
								 ttl => interval '200000 years');
SELECT mlops.create_feature_view('acct_2d', 'acct', 'acct_src', 'ts', ARRAY['amount'],
								 ttl => interval '2 days');
INSERT INTO acct_src VALUES (5, '4714-11-24 01:00:00+00 BC', 5);
SELECT * FROM mlops.get_historical_features(
	'SELECT * FROM (VALUES (0::bigint, timestamptz ''2024-02-01''),
						   (5, ''4714-11-25 00:00:00+00 BC'')) v(acct_id, event_timestamp)',
	ARRAY['acct_old:amount', 'acct_2d:amount'])
	AS t(acct_id bigint, event_timestamp timestamptz, acct_old__amount float8, acct_2d__amount float8);
CREATE TABLE mon_src (k int, ts timestamptz, v int);
INSERT INTO mon_src SELECT i % 7, timestamptz '2023-10-01' + i * interval '7 hours 13 minutes', i
  FROM generate_series(1, 2000) i;
SELECT mlops.create_feature_view('mon', 'gk', 'mon_src', 'ts', ARRAY['v'],
								 ttl => interval '1 month 3 days 05:00');
CREATE TABLE mon_e AS
SELECT i AS id, i % 8 AS k,
	   timestamptz '2023-10-01' + (i * 37 % 600) * interval '1 day' / 3 AS event_timestamp
  FROM generate_series(1, 1500) i;
INSERT INTO mon_e VALUES (2000, 1, '2024-03-31 02:30-04'), (2001, 1, '2024-05-31 12:00-04');
SET TimeZone = 'America/New_York';
SELECT count(*) AS rows, count(v) > 1000 AS found_values,
	   count(*) FILTER (WHERE v IS DISTINCT FROM
						(SELECT s.v FROM mon_src s WHERE s.k = t.k AND s.ts <= t.event_timestamp
							AND s.ts >= t.event_timestamp - interval '1 month 3 days 05:00'
						  ORDER BY s.ts DESC LIMIT 1)) AS differ
  FROM mlops.get_historical_features('mon_e', ARRAY['mon:v'])
	AS t(id int, k int, event_timestamp timestamptz, v int);
SET TimeZone = 'UTC';

-- the generated SQL names pg_catalog's operators and types: another
-- schema's "=" first in the search_path changes nothing
CREATE SCHEMA fs_pit_evil;
CREATE FUNCTION fs_pit_evil.eq(int, bigint) RETURNS bool LANGUAGE plpgsql
	AS $$BEGIN RAISE EXCEPTION 'fs_pit_evil.= called'; END$$;
CREATE OPERATOR fs_pit_evil.= (LEFTARG = int, RIGHTARG = bigint, FUNCTION = fs_pit_evil.eq);
CREATE FUNCTION fs_pit_evil.eqn(numeric, numeric) RETURNS bool LANGUAGE plpgsql
	AS $$BEGIN RAISE EXCEPTION 'fs_pit_evil.= called'; END$$;
CREATE OPERATOR fs_pit_evil.= (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = fs_pit_evil.eqn);
CREATE FUNCTION fs_pit_evil.trunc(numeric) RETURNS numeric LANGUAGE plpgsql
	AS $$BEGIN RAISE EXCEPTION 'fs_pit_evil.trunc called'; END$$;
SET search_path = fs_pit_evil, pg_catalog, fs_pit, public;
SELECT id, customer_id, visits FROM mlops.get_historical_features('big_e', ARRAY['spend@1:visits'])
	AS t(id int, customer_id bigint, event_timestamp timestamptz, visits int) ORDER BY id;
SELECT id, customer_id, visits FROM mlops.get_historical_features('num_e', ARRAY['spend@1:visits'])
	AS t(id int, customer_id numeric, event_timestamp timestamptz, visits int) ORDER BY id;
SET search_path = fs_pit, public;
DROP SCHEMA fs_pit_evil CASCADE;

-- memory limit
SET mlops.feature_memory_limit = '1MB';
SELECT count(*) FROM mlops.get_historical_features(
	'SELECT i % 300 AS k, ''g1'' AS g, now() AS event_timestamp FROM generate_series(1, 50000) i',
	ARRAY['gen_b:b']) AS t(k int, g text, event_timestamp timestamptz, b text);
RESET mlops.feature_memory_limit;

-- bad input: nothing is created
\set VERBOSITY default
SELECT mlops.get_historical_features('train_events', ARRAY['spend:spend']);
SELECT * FROM mlops.get_historical_features('train_events', ARRAY['spend:spend'])
	AS t(id int, spend numeric);
SELECT * FROM mlops.get_historical_features('train_events', ARRAY['spend:spend', 'spend:spend']) AS t(x int);
SELECT * FROM mlops.get_historical_features('SELECT id, event_timestamp FROM train_events',
	ARRAY['spend:spend']) AS t(x int);
SELECT * FROM mlops.get_historical_features('train_events', ARRAY['spend:spend'], 'ts') AS t(x int);
SELECT * FROM mlops.get_historical_features('train_events', ARRAY['spend:spend'], 'id') AS t(x int);
SELECT * FROM mlops.get_historical_features('no_such_table', ARRAY['spend:spend']) AS t(x int);
SELECT * FROM mlops.get_historical_features('train_events', NULL) AS t(x int);
SELECT mlops.create_training_set('churn_ts', 'train_events', ARRAY['spend:spend']);
-- errors the catalog functions raise (their context lines left out)
\set VERBOSITY terse
SELECT * FROM mlops.get_historical_features('train_events', ARRAY['nope:spend']) AS t(x int);
SELECT * FROM mlops.get_historical_features('train_events', ARRAY['spend:nope']) AS t(x int);
SELECT * FROM mlops.get_historical_features('train_events', ARRAY['service:nope']) AS t(x int);
SELECT mlops.create_training_set('new_ts', 'train_events', ARRAY['spend:nope']);
SELECT count(*) AS training_sets, to_regclass('new_ts') AS new_ts FROM mlops.training_sets;

-- catalog rows written around mlops.create_feature_view (and its trigger)
-- are checked when read: an error, never a crash
SET session_replication_role = replica;
INSERT INTO mlops.feature_views (name, version, entity, source, timestamp_column, features, query)
VALUES ('hostile_noname', 1, 'acct', 'acct_src', 'ts', '[{"expr": "amount", "type": "double precision"}]',
		'SELECT acct_id, ts AS feature_ts, amount FROM fs_pit.acct_src'),
	   ('hostile_notype', 1, 'acct', 'acct_src', 'ts', '[{"expr": "amount", "name": "amount"}]',
		'SELECT acct_id, ts AS feature_ts, amount FROM fs_pit.acct_src'),
	   ('hostile_notobj', 1, 'acct', 'acct_src', 'ts', '["amount"]',
		'SELECT acct_id, ts AS feature_ts, amount FROM fs_pit.acct_src'),
	   ('hostile_ts', 1, 'acct', 'acct_src', 'ts', '[{"expr": "amount", "name": "amount", "type": "x"}]',
		'SELECT acct_id, ts::timestamp AS feature_ts, amount FROM fs_pit.acct_src'),
	   ('hostile_two', 1, 'acct', 'acct_src', 'ts', '[{"expr": "amount", "name": "amount", "type": "x"}]',
		'SELECT acct_id, ts AS feature_ts, amount FROM fs_pit.acct_src; SELECT 1'),
	   ('hostile_volatile', 1, 'acct', 'acct_src', 'ts', '[{"expr": "amount", "name": "amount", "type": "x"}]',
		'SELECT acct_id, ts AS feature_ts, random() AS amount FROM fs_pit.acct_src');
INSERT INTO mlops.entities (name, join_keys) VALUES ('hostile_e', ARRAY[NULL]::text[]);
INSERT INTO mlops.feature_views (name, version, entity, source, timestamp_column, features, query)
VALUES ('hostile_key', 1, 'hostile_e', 'acct_src', 'ts', '[{"expr": "amount", "name": "amount", "type": "x"}]',
		'SELECT acct_id, ts AS feature_ts, amount FROM fs_pit.acct_src');
RESET session_replication_role;
CREATE TABLE acct_e AS SELECT 1::bigint AS acct_id, timestamptz '2024-02-01' AS event_timestamp;
\set VERBOSITY default
SELECT mlops.historical_features_columns('acct_e', ARRAY['hostile_noname:*']);
SELECT mlops.historical_features_columns('acct_e', ARRAY['hostile_notype:*']);
SELECT mlops.historical_features_columns('acct_e', ARRAY['hostile_notobj:*']);
SELECT mlops.historical_features_columns('acct_e', ARRAY['hostile_ts:*']);
SELECT mlops.historical_features_columns('acct_e', ARRAY['hostile_two:*']);
SELECT mlops.historical_features_columns('acct_e', ARRAY['hostile_volatile:*']);
SELECT mlops.historical_features_columns('acct_e', ARRAY['hostile_key:*']);
\set VERBOSITY terse
DELETE FROM mlops.feature_views WHERE name LIKE 'hostile%';
DELETE FROM mlops.entities WHERE name = 'hostile_e';

DROP SCHEMA fs_pit CASCADE;
-- the training sets' tables went with the schema
DELETE FROM mlops.training_sets WHERE to_regclass(name) IS NULL;
