#!/usr/bin/env bash
# Start Pulse on one machine: migrate, seed the demo once, then web + Celery worker + beat.
# Ctrl-C (or any one process dying) stops all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export DEBUG="${DEBUG:-true}"

$BIN/python manage.py migrate --noinput -v 0
$BIN/python manage.py seed_demo

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

$BIN/celery -A pulse worker --loglevel=INFO --concurrency=2 --without-gossip --without-mingle &
pids+=($!)
$BIN/celery -A pulse beat --loglevel=INFO --pidfile= &
pids+=($!)
$BIN/python manage.py runserver 127.0.0.1:8000 --noreload &
pids+=($!)

echo "Pulse is running on http://127.0.0.1:8000 (Ctrl-C stops web, worker and beat)."
wait -n
