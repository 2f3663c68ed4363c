#!/usr/bin/env bash
# Trial of the team setup on one machine: PostgreSQL on 127.0.0.1:5432 (user postgres, trust
# auth), a Prefect server on PostgreSQL, the process work pool, the deployments and N workers.
# Usage: deploy/team-up.sh [WORKERS]   (Ctrl-C stops the server and the workers)
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${1:-2}
PG=${PG:-postgresql://postgres@127.0.0.1:5432}
psql "$PG/postgres" -tc "SELECT 1 FROM pg_database WHERE datname='newsdelta'" | grep -q 1 || psql "$PG/postgres" -c "CREATE DATABASE newsdelta"
psql "$PG/postgres" -tc "SELECT 1 FROM pg_database WHERE datname='prefect'" | grep -q 1 || psql "$PG/postgres" -c "CREATE DATABASE prefect"

export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_API_DATABASE_CONNECTION_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/prefect"
export PREFECT_API_URL=http://127.0.0.1:4200/api
export NEWSDELTA_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/newsdelta"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
prefect server start --host 127.0.0.1 --port 4200 > /tmp/newsdelta-prefect-server.log 2>&1 &
pids+=($!)
for _ in $(seq 120); do curl -sf "$PREFECT_API_URL/health" > /dev/null && break; sleep 1; done
prefect work-pool inspect newsdelta > /dev/null 2>&1 || prefect work-pool create newsdelta --type process
prefect --no-prompt deploy --prefect-file deploy/prefect.yaml --all
for i in $(seq "$WORKERS"); do
  prefect worker start --pool newsdelta --name "worker-$i" > "/tmp/newsdelta-worker-$i.log" 2>&1 &
  pids+=($!)
done
echo "Prefect UI: http://127.0.0.1:4200 — $WORKERS worker(s) polling pool 'newsdelta'. Ctrl-C to stop."
wait
