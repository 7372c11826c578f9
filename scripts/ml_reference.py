#!/usr/bin/env python3
# Copyright (c) pgmlops authors
#
# scripts/ml_reference.py: cross-checks mlops.train against scikit-learn
# and XGBoost on the vendored datasets (test/data/ml/).
#
# For every case it trains a model with mlops.train on a query that reads
# the table ordered by id, reproduces the extension's train/test split in
# Python (scripts/ml/mlsplit.py), fits the reference with the same
# hyperparameters on the same preprocessing (mean imputation, then
# standardization with the population standard deviation, for every
# algorithm but XGBoost), computes the same held-out metrics and compares
# them.  It also scores the test rows with mlops.predict_batch and compares
# the predictions.  Deterministic algorithms must agree within 1e-3
# (relative to the metric's size when above 1); for k-means the inertia
# is compared loosely: ours within 1% of scikit-learn's best of n_init runs
# (or below it), and our silhouette must equal scikit-learn's computed on
# our own cluster assignments.
#
#   PGHOST=... PGPORT=... PGDATABASE=... python3 scripts/ml_reference.py [-k SUBSTRING] [-v]
#
# Needs python3-sklearn, python3-xgboost, python3-psycopg (Debian 12; in
# some environments only /usr/bin/python3 sees them).  Creates the dataset
# tables (from test/data/ml/data.sql) when they are missing.  Prints one
# line per case (CASE name PASS|FAIL detail), then a table; exits 1 when a
# case fails, 2 when it could not run at all.
import argparse
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, 'ml'))

from mlsplit import ml_split  # noqa: E402

TOL = 1e-3

DATASETS = {
    # table: (label column, task)
    'iris': ('species', 'classification'),
    'wine': ('class', 'classification'),
    'breast_cancer': ('target', 'classification'),
    'diabetes': ('target', 'regression'),
}

# name, table, algorithm, hyperparameters (given to both sides), task
# (None: the dataset's; 'clustering' drops the label)
CASES = [
    ('diabetes_linear', 'diabetes', 'linear_regression', {}, None),
    ('diabetes_ridge', 'diabetes', 'linear_regression', {'alpha': 1.0}, None),
    ('diabetes_lasso', 'diabetes', 'lasso', {'alpha': 0.1}, None),
    ('diabetes_elastic_net', 'diabetes', 'elastic_net',
     {'alpha': 0.1, 'l1_ratio': 0.5}, None),
    ('diabetes_xgboost', 'diabetes', 'xgboost',
     {'n_estimators': 50, 'max_depth': 4, 'nthread': 1}, None),
    ('breast_cancer_logistic', 'breast_cancer', 'logistic_regression',
     {'C': 1.0}, None),
    ('breast_cancer_xgboost', 'breast_cancer', 'xgboost',
     {'n_estimators': 50, 'max_depth': 4, 'nthread': 1}, None),
    ('iris_logistic', 'iris', 'logistic_regression', {'C': 1.0}, None),
    ('iris_xgboost', 'iris', 'xgboost',
     {'n_estimators': 30, 'max_depth': 3, 'nthread': 1}, None),
    ('wine_logistic', 'wine', 'logistic_regression', {'C': 1.0}, None),
    ('wine_xgboost', 'wine', 'xgboost',
     {'n_estimators': 30, 'max_depth': 3, 'nthread': 1}, None),
    ('iris_kmeans', 'iris', 'kmeans', {'n_clusters': 3}, 'clustering'),
]

TEST_FRACTION = 0.2
SEED = 42


def qident(name):
    """a quoted SQL identifier"""
    return '"' + name.replace('"', '""') + '"'


def load_data_sql(conn, path):
    """run data.sql's statements and COPY blocks (psql meta-commands skipped)"""
    with open(path) as f:
        lines = f.read().split('\n')
    stmt = []
    i = 0
    with conn.cursor() as cur:
        while i < len(lines):
            line = lines[i]
            i += 1
            if line.startswith('\\') or line.startswith('--') or not line.strip():
                continue
            stmt.append(line)
            if not line.rstrip().endswith(';'):
                continue
            sql = '\n'.join(stmt)
            stmt = []
            if sql.upper().startswith('COPY ') and 'FROM STDIN' in sql.upper():
                block = []
                while lines[i] != '\\.':
                    block.append(lines[i])
                    i += 1
                i += 1
                with cur.copy(sql) as cp:
                    cp.write('\n'.join(block) + '\n')
            else:
                cur.execute(sql)
    conn.commit()


def columns(conn, table):
    """column names of table in order"""
    with conn.cursor() as cur:
        cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass "
                    "AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (table,))
        return [r[0] for r in cur.fetchall()]


def fetch(conn, sql):
    """rows of a query as a float64 array"""
    with conn.cursor() as cur:
        cur.execute(sql)
        return np.array(cur.fetchall(), dtype=np.float64)


def standardize(xtr, xte):
    """mean imputation and standardization learned on the training rows"""
    mean = np.nanmean(xtr, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    xtr = np.where(np.isnan(xtr), mean, xtr)
    xte = np.where(np.isnan(xte), mean, xte)
    center = xtr.mean(axis=0)
    scale = xtr.std(axis=0)
    scale = np.where(scale == 0, 1.0, scale)
    return (xtr - center) / scale, (xte - center) / scale


def reference_model(alg, task, params, n_classes):
    """the scikit-learn/XGBoost estimator with the same hyperparameters"""
    from sklearn import linear_model
    from sklearn.cluster import KMeans
    p = dict(params)
    if alg == 'linear_regression':
        alpha = p.pop('alpha', 0.0)
        if alpha > 0:
            return linear_model.Ridge(alpha=alpha, **p)
        return linear_model.LinearRegression(**p)
    if alg == 'lasso':
        return linear_model.Lasso(**p)
    if alg == 'elastic_net':
        return linear_model.ElasticNet(**p)
    if alg == 'logistic_regression':
        return linear_model.LogisticRegression(solver='lbfgs', **p)
    if alg == 'kmeans':
        p.setdefault('n_clusters', 8)
        p.setdefault('n_init', 10)
        return KMeans(random_state=0, **p)
    if alg == 'xgboost':
        import xgboost
        if 'nthread' in p:
            p['n_jobs'] = p.pop('nthread')
        p.setdefault('tree_method', 'hist')
        p.setdefault('random_state', 0)
        if task == 'regression':
            return xgboost.XGBRegressor(**p)
        return xgboost.XGBClassifier(**p)
    raise ValueError(alg)


def reference_metrics(task, y, pred, proba, n_classes, x=None, centers=None):
    """the held-out metrics as the extension defines them"""
    from sklearn import metrics as M
    out = {}
    if task == 'regression':
        out['rmse'] = math.sqrt(M.mean_squared_error(y, pred))
        out['mae'] = M.mean_absolute_error(y, pred)
        out['r2'] = M.r2_score(y, pred)
    elif task == 'classification':
        labels = list(range(n_classes))
        avg = 'binary' if n_classes == 2 else 'macro'
        out['accuracy'] = M.accuracy_score(y, pred)
        out['precision'] = M.precision_score(y, pred, labels=labels, average=avg,
                                             zero_division=0)
        out['recall'] = M.recall_score(y, pred, labels=labels, average=avg,
                                       zero_division=0)
        out['f1'] = M.f1_score(y, pred, labels=labels, average=avg, zero_division=0)
        if n_classes == 2 and len(set(y)) == 2:
            out['roc_auc'] = M.roc_auc_score(y, proba[:, 1])
        out['log_loss'] = M.log_loss(y, proba, labels=labels)
        out['confusion_matrix'] = M.confusion_matrix(y, pred, labels=labels).tolist()
    else:
        d = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        out['inertia'] = float(d[np.arange(len(x)), pred.astype(int)].sum())
        if 1 < len(set(pred.astype(int))) < len(x):
            out['silhouette'] = M.silhouette_score(x, pred.astype(int))
    return out


def close(a, b):
    """within TOL, relative to the size of b when above 1"""
    return abs(a - b) <= TOL * max(1.0, abs(b))


def compare(ours, ref, names):
    """list of mismatch descriptions for the metrics in names"""
    bad = []
    for k in names:
        if k not in ref:
            continue
        if k not in ours:
            bad.append(f'{k} missing from our metrics')
        elif k == 'confusion_matrix':
            if ours[k] != ref[k]:
                bad.append(f'{k} {ours[k]} != {ref[k]}')
        elif ours[k] is None or not close(float(ours[k]), float(ref[k])):
            bad.append(f'{k} {ours[k]} != {ref[k]:.6g}')
    return bad


def run_case(conn, case, verbose):
    """train one case both ways; (ok, detail, row for the table)"""
    name, table, alg, params, task_override = case
    label, task = DATASETS[table]
    task = task_override or task
    feats = [c for c in columns(conn, table) if c not in ('id', label)]
    select_cols = feats + ([label] if task != 'clustering' else [])
    source = (f'SELECT {", ".join(qident(c) for c in select_cols)} '
              f'FROM {qident(table)} ORDER BY id')
    model = f'ref_{name}'

    t0 = time.time()
    with conn.cursor() as cur:
        cur.execute('SELECT version, metrics FROM mlops.train(model => %s, source => %s, '
                    'target => %s, algorithm => %s, hyperparams => %s::jsonb, '
                    'test_fraction => %s, seed => %s, task => %s)',
                    (model, source, label if task != 'clustering' else None, alg,
                     json.dumps(params), TEST_FRACTION, SEED, task))
        version, ours = cur.fetchone()
    conn.commit()
    our_seconds = time.time() - t0
    if isinstance(ours, str):
        ours = json.loads(ours)

    data = fetch(conn, f'SELECT {", ".join(qident(c) for c in select_cols)} '
                 f'FROM {qident(table)} ORDER BY id')
    ids = fetch(conn, f'SELECT id FROM {qident(table)} ORDER BY id')[:, 0].astype(int)
    x = data[:, :len(feats)]
    train, test = ml_split(len(x), TEST_FRACTION, SEED)
    xtr, xte = x[train], x[test]
    if alg != 'xgboost':
        xtr, xte = standardize(xtr, xte)
    classes = None
    n_classes = 0
    if task == 'classification':
        classes = np.unique(data[:, -1])  # like the glue: every row's label
        y = np.searchsorted(classes, data[:, -1])
        n_classes = len(classes)
    elif task == 'regression':
        y = data[:, -1]
    else:
        y = None

    t0 = time.time()
    est = reference_model(alg, task, params, n_classes)
    if task == 'clustering':
        est.fit(xtr)
        pred = est.predict(xte)
        ref = reference_metrics(task, None, pred, None, 0, xte, est.cluster_centers_)
    else:
        est.fit(xtr, y[train])
        pred = est.predict(xte)
        proba = est.predict_proba(xte) if task == 'classification' else None
        ref = reference_metrics(task, y[test], pred, proba, n_classes)
    ref_seconds = time.time() - t0

    # our predictions of the test rows, by id
    with conn.cursor() as cur:
        cur.execute('SELECT id, prediction FROM mlops.predict_batch(%s, %s, %s)',
                    (f'{model}@{version}',
                     f'SELECT id, {", ".join(qident(c) for c in feats)} '
                     f'FROM {qident(table)} ORDER BY id', 'id'))
        got = {int(r[0]): r[1] for r in cur.fetchall()}
    conn.commit()
    ours_pred = np.array([got.get(int(ids[i]), np.nan) for i in test], dtype=np.float64)

    bad = []
    if task == 'clustering':
        # ours from our own assignments, sklearn's best of n_init
        if 'inertia' not in ours:
            bad.append('inertia missing from our metrics')
        elif float(ours['inertia']) > ref['inertia'] * 1.01:
            bad.append(f'inertia {ours["inertia"]} > 1.01 x scikit-learn\'s {ref["inertia"]:.6g}')
        if np.isnan(ours_pred).any():
            bad.append('predict_batch missed test rows')
        elif len(test) <= 1000 and 1 < len(set(ours_pred.astype(int))) < len(test):
            # silhouette over every test row (no sampling below 1000) of
            # our own assignments
            from sklearn.metrics import silhouette_score
            sil = silhouette_score(xte, ours_pred.astype(int))
            if 'silhouette' not in ours or not close(float(ours['silhouette']), sil):
                bad.append(f'silhouette {ours.get("silhouette")} != {sil:.6g} '
                           '(scikit-learn on our clusters)')
        pred_note = f'{len(set(ours_pred[~np.isnan(ours_pred)].astype(int)))} clusters'
        shown = ['inertia', 'silhouette']
    else:
        names = (['rmse', 'mae', 'r2'] if task == 'regression' else
                 ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss',
                  'confusion_matrix'])
        bad += compare(ours, ref, names)
        if task == 'regression':
            diff = np.abs(ours_pred - pred)
            worst = float(np.nanmax(diff)) if len(diff) else 0.0
            if np.isnan(ours_pred).any() or not all(
                    close(a, b) for a, b in zip(ours_pred, pred)):
                bad.append(f'predict_batch differs (max |diff| {worst:.3g})')
            pred_note = f'max |pred diff| {worst:.2g}'
        else:
            want = classes[pred.astype(int)]
            agree = int(np.sum(ours_pred == want))
            if agree != len(test):
                bad.append(f'predict_batch agrees on {agree}/{len(test)} rows')
            pred_note = f'pred agree {agree}/{len(test)}'
        shown = names[:-1]
    detail = '; '.join(bad) if bad else pred_note
    row = [name, alg, f'{model}@{version}']
    for k in shown:
        if k in ref:
            o = ours.get(k)
            row.append(f'{k} {float(o):.6g}/{ref[k]:.6g}' if o is not None
                       else f'{k} -/{ref[k]:.6g}')
    row.append(f'{our_seconds:.2f}s/{ref_seconds:.2f}s')
    if verbose:
        print(f'# {name}: ours {json.dumps(ours)}', flush=True)
        print(f'# {name}: ref  {json.dumps(ref)}', flush=True)
    return not bad, detail, row


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('-k', help='only the cases whose name contains this')
    ap.add_argument('-v', action='store_true', help='print both metric sets')
    ap.add_argument('--data', default=os.path.join(ROOT, 'test/data/ml/data.sql'))
    args = ap.parse_args()

    import psycopg
    try:
        conn = psycopg.connect('')
    except psycopg.Error as e:
        print(f'could not connect: {e}', file=sys.stderr)
        return 2
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM unnest(%s::text[]) t(n) WHERE to_regclass(n) IS NULL",
                    (list(DATASETS),))
        missing = cur.fetchone()[0]
    conn.commit()
    if missing:
        load_data_sql(conn, args.data)

    failed = 0
    table = []
    for case in CASES:
        if args.k and args.k not in case[0]:
            continue
        try:
            ok, detail, row = run_case(conn, case, args.v)
        except Exception as e:  # a failed case must not stop the others
            if conn.closed or conn.broken:
                # the server restarts after a crash: wait for it
                for _ in range(60):
                    try:
                        conn = psycopg.connect('')
                        break
                    except psycopg.Error:
                        time.sleep(1)
            else:
                conn.rollback()
            ok, detail, row = False, f'{type(e).__name__}: {str(e).strip()}', [case[0], case[2]]
        failed += not ok
        print(f'CASE {case[0]} {"PASS" if ok else "FAIL"} {detail}', flush=True)
        table.append(row + [('ok' if ok else 'FAIL')])
    print()
    print('| case | algorithm | version | metrics (ours/reference) | train s (ours/ref) | |')
    print('|---|---|---|---|---|---|')
    for r in table:
        if len(r) > 4:
            print(f'| {r[0]} | {r[1]} | {r[2]} | {", ".join(r[3:-2])} | {r[-2]} | {r[-1]} |')
        else:
            print(f'| {r[0]} | {r[1]} | | | | {r[-1]} |')
    print(f'\n{len(table) - failed} of {len(table)} cases match')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
