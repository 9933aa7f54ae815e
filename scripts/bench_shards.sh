#!/usr/bin/env bash
# Wall time of one Mixpanel backfill run by 1 process and by N shards (`--shard K/N`) sharing a
# PostgreSQL state store, against the sandbox, with a quota high enough that the mapping (CPU)
# bounds the run. Prints one line per layout: seconds, and events written.
#
#   scripts/bench_shards.sh [EVENTS_PER_DAY] [DAYS] [SHARDS]
#
# Needs: a release build (cargo build --release) and PostgreSQL's server programs
# (apt-get install postgresql); starts its own server and sandbox on free ports and stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-100000}
DAYS=${2:-8}
SHARDS=${3:-4}
SLUICE=${SLUICE:-target/release/sluice}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d)
chmod 755 "$WORK"   # the postgres user reaches its data dir through it
stop() {
  kill $(jobs -p) 2>/dev/null || true
  # the postmaster runs under runuser: stop it by its pid file, then remove its files
  [ -f "$WORK/pg/data/postmaster.pid" ] && kill -INT "$(head -1 "$WORK/pg/data/postmaster.pid")" 2>/dev/null
  sleep 1
  rm -rf "$WORK"
}
trap stop EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$WORK/pg"; [ "$(id -u)" -eq 0 ] && chown postgres "$WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust --no-sync >/dev/null
PGPORT=$(free_port)
as_pg "$PGBIN/postgres" -D "$WORK/pg/data" -p "$PGPORT" -k "$WORK/pg" \
  -c listen_addresses=127.0.0.1 >"$WORK/pg/log" 2>&1 &
SBPORT=$(free_port)
"$SLUICE" -q sandbox --port "$SBPORT" --size "mixpanel=$EVENTS" --quota mixpanel=1000/1 &
until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; do sleep 0.2; done
until curl -s -o /dev/null "http://127.0.0.1:$SBPORT/"; do sleep 0.2; done

TO=$(date -u -d "yesterday" +%F)
FROM=$(date -u -d "$TO - $((DAYS - 1)) days" +%F)
flow() { # name, state table
  cat >"$WORK/$1.toml" <<TOML
name = "$1"
[connection]
connector = "mixpanel"
base_url = "http://127.0.0.1:$SBPORT"
api_secret = "\${MIXPANEL_API_SECRET}"
quota = "1000/1"
[source]
streams = ["events"]
[mapping]
file = "$PWD/config/mappings/mixpanel-events.json"
[destination]
format = "parquet"
path = "$WORK/out-$1"
$2
TOML
}
export MIXPANEL_API_SECRET=sandbox RUST_LOG=warn
flow solo ""
flow fleet "[state]
url = \"postgres://postgres@127.0.0.1:$PGPORT/postgres\""
count() { python3 -c "import duckdb; print(duckdb.sql(\"select count(*) from read_parquet('$1/events/**/*.parquet', union_by_name=true)\").fetchall()[0][0])"; }

start=$(date +%s.%N)
"$SLUICE" -q backfill "$WORK/solo.toml" --from "$FROM" --to "$TO" --window 1d --concurrency 2 >/dev/null
solo=$(echo "$(date +%s.%N) - $start" | bc)
start=$(date +%s.%N)
for k in $(seq 0 $((SHARDS - 1))); do
  "$SLUICE" -q backfill "$WORK/fleet.toml" --from "$FROM" --to "$TO" --window 1d --concurrency 1 \
    --shard "$k/$SHARDS" >/dev/null &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
fleet=$(echo "$(date +%s.%N) - $start" | bc)
printf "1 process (2 windows at a time): %6.2f s, %s events\n" "$solo" "$(count "$WORK/out-solo")"
printf "%d shards (1 window each):        %6.2f s, %s events\n" "$SHARDS" "$fleet" "$(count "$WORK/out-fleet")"
echo "($(nproc) cores; $DAYS days of $EVENTS events)"
