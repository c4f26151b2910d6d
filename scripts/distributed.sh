#!/usr/bin/env bash
# The distributed form as plain processes on this machine: 2 API replicas and 2 workers on the
# local PostgreSQL (database "cloudplane"), RabbitMQ and Redis, sharing one data directory.
#
#   scripts/distributed.sh up      migrate, then start everything and wait until it answers
#   scripts/distributed.sh down    stop what `up` started (by the PIDs it recorded)
#   scripts/distributed.sh status  which processes run, and what /readyz says
#
# Settings come from the environment (defaults below); PIDs and logs go to $RUN_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

: "${CLOUDPLANE_DATABASE:=cloudplane}"
: "${CLOUDPLANE_DATABASE_URL:=postgresql+asyncpg://postgres@127.0.0.1:5432/${CLOUDPLANE_DATABASE}}"
: "${CLOUDPLANE_BROKER_URL:=amqp://guest:guest@127.0.0.1:5672/}"
: "${CLOUDPLANE_REDIS_URL:=redis://127.0.0.1:6379/0}"
: "${CLOUDPLANE_DATA_DIR:=$PWD/var/distributed}"
: "${API_PORTS:=8081 8082}"
: "${WORKERS:=2}"
: "${RUN_DIR:=$CLOUDPLANE_DATA_DIR/run}"
export CLOUDPLANE_DATABASE_URL CLOUDPLANE_BROKER_URL CLOUDPLANE_REDIS_URL CLOUDPLANE_DATA_DIR

CLOUDPLANE=(.venv/bin/cloudplane)

fail() {
  printf 'distributed.sh: %s\n' "$*" >&2
  exit 1
}

running() { # running PIDFILE: whether the process it names is alive
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

start() { # start NAME COMMAND...: run in the background, log to RUN_DIR/NAME.log
  local name=$1
  shift
  if running "$RUN_DIR/$name.pid"; then
    echo "$name already running (pid $(cat "$RUN_DIR/$name.pid"))"
    return
  fi
  nohup "$@" >>"$RUN_DIR/$name.log" 2>&1 &
  echo $! >"$RUN_DIR/$name.pid"
  echo "$name started (pid $!, log $RUN_DIR/$name.log)"
}

wait_ready() { # wait_ready PORT: poll /readyz for up to 60 s
  local port=$1 deadline=$((SECONDS + 60))
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
    ((SECONDS < deadline)) || fail "the API on port $port is not ready; see $RUN_DIR/api-$port.log"
    sleep 0.5
  done
}

up() {
  [ -x "${CLOUDPLANE[0]}" ] || bash scripts/setup.sh
  mkdir -p "$RUN_DIR"
  if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$CLOUDPLANE_DATABASE'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE \"$CLOUDPLANE_DATABASE\"" >/dev/null
    echo "database $CLOUDPLANE_DATABASE created"
  fi
  # One migration before any replica starts; it prints the admin password on the first run.
  "${CLOUDPLANE[@]}" migrate 2>&1 | tee -a "$RUN_DIR/migrate.log" | grep -v '^{' || true
  for port in $API_PORTS; do
    start "api-$port" env CLOUDPLANE_AUTO_MIGRATE=false "${CLOUDPLANE[@]}" serve --port "$port"
  done
  for n in $(seq 1 "$WORKERS"); do
    start "worker-$n" "${CLOUDPLANE[@]}" worker
  done
  for port in $API_PORTS; do
    wait_ready "$port"
    echo "API ready on http://127.0.0.1:$port"
  done
}

down() {
  local pidfile
  for pidfile in "$RUN_DIR"/*.pid; do
    [ -e "$pidfile" ] || continue
    if running "$pidfile"; then
      kill "$(cat "$pidfile")"
      echo "stopped $(basename "$pidfile" .pid)"
    fi
    rm -f "$pidfile"
  done
}

status() {
  local pidfile port
  for pidfile in "$RUN_DIR"/*.pid; do
    [ -e "$pidfile" ] || continue
    if running "$pidfile"; then state=running; else state=stopped; fi
    printf '%-12s %s\n' "$(basename "$pidfile" .pid)" "$state"
  done
  for port in $API_PORTS; do
    printf 'readyz %s: %s\n' "$port" "$(curl -s "http://127.0.0.1:$port/readyz" || echo unreachable)"
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) fail "usage: $0 up|down|status" ;;
esac
