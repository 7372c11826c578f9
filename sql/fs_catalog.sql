-- feature store catalog: entities, versioned feature views, services
SET client_min_messages = warning;
\set VERBOSITY terse
CREATE TABLE fc_orders (customer_id int, region text, ts timestamptz, amount float8,
						status text, payload bytea, day date);
INSERT INTO fc_orders VALUES (1, 'eu', '2024-01-01 10:00+00', 10.5, 'open', '\x00', '2024-01-01');
CREATE TABLE fc_stores (store_id int, country text, opened timestamp, size real);

SELECT mlops.create_entity('fc_customer', ARRAY['customer_id'], 'a customer');
SELECT mlops.create_entity('fc_region_customer', ARRAY['region', 'customer_id']);
SELECT mlops.create_entity('fc_store', ARRAY['store_id']);
-- bad entities
SELECT mlops.create_entity('fc_customer', ARRAY['customer_id']);
SELECT mlops.create_entity('fc_bad', ARRAY[]::text[]);
SELECT mlops.create_entity('fc_bad', ARRAY['a', 'a']);
SELECT mlops.create_entity('fc bad', ARRAY['a']);
SELECT name, join_keys, description, feature_views FROM mlops.entity_list
 WHERE name LIKE 'fc\_%' ORDER BY name;

-- a view: columns and named expressions; a redefinition is a new version,
-- the same definition again is not
SELECT mlops.create_feature_view('fc_orders_fv', 'fc_customer', 'fc_orders', 'ts',
	ARRAY['amount', 'status', 'amount * 2 AS double_amount', 'upper(status) AS "Status Upper"'],
	ttl => interval '30 days', tags => '{"team": "growth"}');
SELECT mlops.create_feature_view('fc_orders_fv', 'fc_customer', 'fc_orders', 'ts',
	ARRAY['amount', 'status', 'amount * 2 AS double_amount', 'upper(status) AS "Status Upper"'],
	ttl => interval '30 days', tags => '{"team": "growth"}');
SELECT mlops.create_feature_view('fc_orders_fv', 'fc_customer', 'fc_orders', 'ts',
	ARRAY['amount', 'amount * 3 AS triple'], ttl => interval '7 days');
-- a query source, a two-column key, a date timestamp
SELECT mlops.create_feature_view('fc_region_fv', 'fc_region_customer',
	'SELECT region, customer_id, day, amount FROM fc_orders WHERE amount > 0', 'day',
	ARRAY['amount AS region_amount'], online => false);
SELECT mlops.create_feature_view('fc_store_fv', 'fc_store', 'fc_stores', 'opened', ARRAY['size', 'country']);
SELECT name, version, latest, entity, source, timestamp_column, features, ttl, online, tags
  FROM mlops.feature_view_list WHERE name LIKE 'fc\_%' ORDER BY name, version;
SELECT view, version, position, feature, type, expression, latest
  FROM mlops.feature_list WHERE view LIKE 'fc\_%' ORDER BY view, version, position;
SELECT version, query FROM mlops.feature_views WHERE name = 'fc_orders_fv' ORDER BY version;
-- an old version stays readable
SELECT * FROM mlops.resolve_features(ARRAY['fc_orders_fv@1:*', 'fc_orders_fv:triple', 'fc_store_fv:size']);

-- bad views: each is refused and nothing is stored
SELECT count(*) AS views_before FROM mlops.feature_views;
SELECT mlops.create_feature_view('fc_bad', 'nosuch', 'fc_orders', 'ts', ARRAY['amount']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_stores', 'opened', ARRAY['size']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_orders', 'amount', ARRAY['status']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_orders', 'nosuch', ARRAY['status']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_orders', 'ts', ARRAY['amount', 'amount']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_orders', 'ts', ARRAY['amount', 'status AS amount']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_orders', 'ts', ARRAY['customer_id']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_orders', 'ts', ARRAY['nosuch']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_orders', 'ts', ARRAY['amount'], ttl => interval '-1 day');
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_orders', 'ts', ARRAY['payload']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_orders', 'ts', ARRAY[]::text[]);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_nosuch', 'ts', ARRAY['amount']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', '', 'ts', ARRAY['amount']);
SELECT mlops.create_feature_view('fc-bad', 'fc_customer', 'fc_orders', 'ts', ARRAY['amount']);
SELECT count(*) AS views_after FROM mlops.feature_views;

-- services pin the versions they reference
SELECT mlops.create_feature_service('fc_svc', ARRAY['fc_orders_fv:amount', 'fc_orders_fv@1:status', 'fc_store_fv:*']);
SELECT mlops.create_feature_service('fc_svc', ARRAY['fc_orders_fv:amount', 'fc_orders_fv@1:status', 'fc_store_fv:*']);
SELECT mlops.create_feature_service('fc_svc', ARRAY['fc_orders_fv:triple']);
SELECT name, version, features FROM mlops.feature_service_list WHERE name = 'fc_svc' ORDER BY version;
SELECT mlops.service_features('fc_svc@1'), mlops.service_features('fc_svc');
SELECT mlops.create_feature_service('fc_svc2', ARRAY['fc_orders_fv:amount', 'fc_orders_fv@1:amount']);
SELECT mlops.create_feature_service('fc_svc2', ARRAY['fc_orders_fv:nosuch']);
SELECT mlops.create_feature_service('fc_svc2', ARRAY['nosuch:amount']);
SELECT mlops.create_feature_service('fc_svc2', ARRAY['fc_orders_fv@9:amount']);
SELECT mlops.create_feature_service('fc_svc2', ARRAY['fc_orders_fv']);
SELECT mlops.service_features('fc_nosuch');

-- feature view queries run as their readers: no volatile code in them
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_orders', 'ts', ARRAY['amount * random() AS noisy']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'SELECT customer_id, ts, amount, pg_sleep(0) AS z FROM fc_orders', 'ts', ARRAY['amount']);
SELECT mlops.create_feature_view('fc_bad', 'fc_customer', 'fc_orders', 'ts', ARRAY['amount AS materialized_at']);
-- a new description or tags update the latest version; no new version
SELECT mlops.create_feature_view('fc_orders_fv', 'fc_customer', 'fc_orders', 'ts',
	ARRAY['amount', 'amount * 3 AS triple'], ttl => interval '7 days', description => 'now documented');
SELECT version, description FROM mlops.feature_views WHERE name = 'fc_orders_fv' ORDER BY version;
-- rows written directly are checked too, and record who wrote them
INSERT INTO mlops.feature_views (name, version, entity, source, timestamp_column, features, query)
VALUES ('fc_hostile', 1, 'fc_customer', 'fc_orders', 'ts', '[{"expr": "amount", "type": "double precision"}]',
		'SELECT customer_id, ts AS feature_ts, amount FROM fc_orders');
INSERT INTO mlops.feature_views (name, version, entity, source, timestamp_column, features, query)
VALUES ('fc_hostile', 1, 'fc_customer', 'fc_orders', 'ts', '[{"name": "a", "expr": "amount", "type": "double precision"}]',
		'SELECT customer_id, ts AS feature_ts, random() AS a FROM fc_orders');
INSERT INTO mlops.entities (name, join_keys, created_by) VALUES ('fc_forged', ARRAY['id'], 'someone_else');
SELECT name, created_by = current_user AS by_me FROM mlops.entities WHERE name = 'fc_forged';
DELETE FROM mlops.entities WHERE name = 'fc_forged';

-- only mlops_admin defines; mlops_user reads the catalog
CREATE ROLE fc_reader IN ROLE mlops_user;
SET ROLE fc_reader;
SELECT mlops.create_entity('fc_x', ARRAY['id']);
SELECT mlops.create_feature_view('fc_x', 'fc_customer', 'fc_orders', 'ts', ARRAY['amount']);
SELECT count(*) > 0 AS can_read FROM mlops.feature_list;
RESET ROLE;
DROP ROLE fc_reader;
DROP TABLE fc_orders, fc_stores;
