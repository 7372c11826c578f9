# scripts/lib.sh: shared by setup, demo, test and dev scripts (sourced, not run).
#
# PostgreSQL refuses to run as root, so every server these scripts start runs
# as the unprivileged user $PGM_USER; root only installs packages and the
# extension.

PGM_USER=${PGM_USER:-pgmlops}
PG_MAJOR=${PG_MAJOR:-15}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin

. "$(dirname "${BASH_SOURCE[0]}")/blasenv.sh"

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Re-run the calling script as root through sudo when needed.
require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "run as root, or install sudo"
    exec sudo -E bash "$0" "$@"
  fi
}

# Install the Debian packages the build and the tests need (once).
install_deps() {
  local pkgs="build-essential rsync postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR
              postgresql-contrib libipc-run-perl nodejs npm python3
              libjansson-dev libcurl4-openssl-dev libopenblas-serial-dev libicu-dev clang libclang-rt-14-dev
              libxgboost-dev python3-sklearn python3-xgboost python3-psycopg"
  local missing=""
  for p in $pkgs; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  # nodejs from another source may ship npm itself
  case " $missing " in *" npm "*) command -v npm >/dev/null && missing=${missing/ npm/} ;; esac
  if [ -n "$missing" ]; then
    log "installing packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Debian's postgresql-common would create and start a default cluster
    mkdir -p /etc/postgresql-common
    [ -f /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
}

# Create the unprivileged user that owns the servers.
ensure_user() {
  id "$PGM_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$PGM_USER"
}

as_user() { runuser -u "$PGM_USER" -- "$@"; }

# Copy the source tree to a work folder owned by $PGM_USER.
stage_tree() {
  local src=$1 dst=$2
  mkdir -p "$dst"
  rsync -a --delete --exclude .git --exclude '*.o' --exclude '*.so' --exclude '*.bc' \
        --exclude results --exclude tmp_check --exclude log --exclude 'unit/*.bin' \
        --exclude node_modules --exclude /.pgb --exclude /bench "$src"/ "$dst"/
  chown -R "$PGM_USER" "$dst"
}

# Build as the user, install as root (into DESTDIR if given).
build_and_install() {
  local dir=$1 destdir=${2:-}
  as_user make -C "$dir" -j"$(nproc)" -s
  if [ -n "$destdir" ]; then
    make -C "$dir" -s install DESTDIR="$destdir"
  else
    make -C "$dir" -s install
  fi
}

# Start a server: start_cluster DATADIR PORT SOCKDIR [BINDIR] [extra postgres options]
# pgmlops is preloaded (training progress and the inference workers need its
# shared memory), so it must be installed for BINDIR first.
start_cluster() {
  local data=$1 port=$2 sock=$3 bindir=${4:-$PG_BIN}
  shift 4 || shift $#
  mkdir -p "$sock" && chown "$PGM_USER" "$sock"
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data" && chown "$PGM_USER" "$data"
    as_user "$bindir/initdb" -D "$data" --auth=trust --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  as_user "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $port -k $sock -c listen_addresses='' -c shared_preload_libraries=pgmlops $*" start >/dev/null \
    || { tail -30 "$data/server.log"; die "server did not start"; }
}

stop_cluster() {
  local data=$1 bindir=${2:-$PG_BIN}
  [ -f "$data/postmaster.pid" ] && as_user "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
}

# shared_buffers for a benchmark server: a quarter of memory, 128 MB to 4 GB
bench_shared_buffers() {
  local mem_mb sb
  mem_mb=$(awk '/^MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
  sb=$(( mem_mb / 4 )); [ "$sb" -gt 4096 ] && sb=4096; [ "$sb" -lt 128 ] && sb=128
  echo "${sb}MB"
}

# A benchmark script's help: its header comment, up to "set -euo"
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

# The options every benchmark script takes: --dir (W), --port (PORT),
# --bindir (bindir), --out (out), --keep (keep) and -h/--help.  Called for
# an option the script does not know itself; shifts by BENCH_SHIFT after.
bench_option() {
  BENCH_SHIFT=2
  case $1 in
    --dir) W=$2 ;;
    --port) PORT=$2 ;;
    --bindir) bindir=$2 ;;
    --out) out=$2 ;;
    --keep) keep=1; BENCH_SHIFT=1 ;;
    -h|--help) usage ;;
    *) echo "unknown option $1" >&2; usage 2 ;;
  esac
}

# A benchmark's own server: bench_server WORKDIR PORT BINDIR KEEP "postgres options".
# Without BINDIR it builds pgmlops into a private copy of PostgreSQL under
# WORKDIR/inst (nothing is installed into the system). It sets BIN, SOCK and
# DATA, starts a fresh cluster, and stops it at exit unless KEEP is 1.
bench_server() {
  local w=$1 port=$2 bindir=$3 keep=$4 opts=$5 inst
  mkdir -p "$w"
  chown "$PGM_USER" "$w"
  if [ -n "$bindir" ]; then
    BIN=$bindir
  else
    inst=$w/inst
    BIN=$inst/usr/lib/postgresql/$PG_MAJOR/bin
    if [ ! -x "$BIN/postgres" ]; then
      mkdir -p "$inst/usr/lib/postgresql" "$inst/usr/share/postgresql"
      cp -a "/usr/lib/postgresql/$PG_MAJOR" "$inst/usr/lib/postgresql/"
      cp -a "/usr/share/postgresql/$PG_MAJOR" "$inst/usr/share/postgresql/"
    fi
    log "building pgmlops and installing it into $inst"
    stage_tree "$here" "$w/src"
    build_and_install "$w/src" "$inst" || die "build failed"
  fi
  [ -x "$BIN/postgres" ] || die "no postgres in $BIN"
  SOCK=$w/sock
  DATA=$w/data
  stop_cluster "$DATA" "$BIN" 2>/dev/null || true
  rm -rf "$DATA"
  log "starting PostgreSQL ($opts)"
  start_cluster "$DATA" "$port" "$SOCK" "$BIN" "$opts"
  [ "$keep" -eq 1 ] || trap 'stop_cluster "$DATA" "$BIN"' EXIT
}
