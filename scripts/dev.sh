#!/usr/bin/env bash
# scripts/dev.sh: a private build, installation and server for one developer,
# so that several people (or agents) can work in one checkout at once.
#
#   scripts/dev.sh NAME build            copy the tree, build, install privately
#   scripts/dev.sh NAME start            start the private server (port from NAME)
#   scripts/dev.sh NAME regress [TEST..] pg_regress (all tests when none named)
#   scripts/dev.sh NAME tap [t/FILE..]   TAP tests against the private install
#   scripts/dev.sh NAME unit             make unitcheck in the private copy
#   scripts/dev.sh NAME psql [ARGS..]    psql on the private server
#   scripts/dev.sh NAME stop
#
# Everything lives under /tmp/pgdev-NAME: src/ (the build copy), inst/ (a copy
# of PostgreSQL with the extension installed; the server finds its share and
# lib folders relative to its binary), data/ and sock/.  Run as root.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"

name=${1:?name}; cmd=${2:?command}; shift 2
D=/tmp/pgdev-$name
INST=$D/inst
BIN=$INST/usr/lib/postgresql/$PG_MAJOR/bin
PORT=$(( 20000 + $(printf '%s' "$name" | cksum | cut -d' ' -f1) % 10000 ))
SOCK=$D/sock
export PGHOST=$SOCK PGPORT=$PORT PGUSER=$PGM_USER PGDATABASE=postgres

ensure_user
[ "$cmd" = build ] && install_deps
case $cmd in
  build)
    if [ ! -x "$BIN/postgres" ]; then
      mkdir -p "$INST/usr/lib/postgresql" "$INST/usr/share/postgresql"
      cp -a /usr/lib/postgresql/$PG_MAJOR "$INST/usr/lib/postgresql/"
      cp -a /usr/share/postgresql/$PG_MAJOR "$INST/usr/share/postgresql/"
    fi
    stage_tree "$here" "$D/src"
    build_and_install "$D/src" "$INST"
    echo "built and installed in $INST"
    ;;
  start)
    start_cluster "$D/data" "$PORT" "$SOCK" "$BIN" "$@"
    echo "export PGHOST=$SOCK PGPORT=$PORT PGUSER=$PGM_USER"
    ;;
  stop)
    stop_cluster "$D/data" "$BIN"
    ;;
  restart)
    stop_cluster "$D/data" "$BIN"
    start_cluster "$D/data" "$PORT" "$SOCK" "$BIN" "$@"
    ;;
  regress)
    tests=${*:-}
    as_user env PGHOST=$SOCK PGPORT=$PORT make -C "$D/src" -s installcheck TAP_TESTS= ${tests:+REGRESS="$tests"} || {
      [ -f "$D/src/regression.diffs" ] && head -200 "$D/src/regression.diffs"; exit 1; }
    ;;
  tap)
    files=${*:-t/*.pl}
    cd "$D/src"
    rm -rf tmp_check
    as_user env PATH="$BIN:$PATH" PG_REGRESS=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/regress/pg_regress \
      PERL5LIB=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/perl \
      PGMLOPS_SRC="$D/src" \
      prove -v $files
    ;;
  unit)
    as_user make -C "$D/src" -s unitcheck
    ;;
  psql)
    as_user env PGHOST=$SOCK PGPORT=$PORT "$BIN/psql" -X "$@"
    ;;
  *) die "unknown command $cmd" ;;
esac
