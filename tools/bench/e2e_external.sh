#!/usr/bin/env bash
# The e2e run measured from outside the bench's process: the same six
# `deno run main.ts` processes, timed with `date +%s%N` around them (server
# spawned, its listening line polled in its log file, the clients started,
# their exits waited for), nothing reading their output while they run.
#
#   tools/bench/e2e_external.sh <data-dir> <agencies> [floor]
#
# With `floor`, the six processes are tools/bench/floor_processes.ts instead
# of main.ts: bare Deno processes that move the same bytes and nothing else,
# started and timed the same way (the floor of the e2e run on this machine).
#
# Prints one line: wall_ms=<n> listening_ms=<n> server_cpu_ms=<n> clients_cpu_ms=<n> rows=<n>
# (CPU is user + system: the server's from /proc before it is stopped, each
# client's from /usr/bin/time). Run by tools/bench/e2e.ts between its own runs.
set -euo pipefail
data=$1
agencies=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
deno=${DENO:-deno}
program=$root/main.ts
[[ ${3:-} == floor ]] && program=$root/tools/bench/floor_processes.ts
flags=(run --allow-all --v8-flags=--max-semi-space-size=8 --quiet "$program")
dir=$(mktemp -d "${TMPDIR:-/tmp}/tp0-bench-ext-XXXXXX")
server=
cleanup() {
  if [[ -n $server ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 12000))
t0=$(date +%s%N)
"$deno" "${flags[@]}" server --host 127.0.0.1 --port "$port" --agencies "$agencies" \
  --storage "$dir/bets.csv" >"$dir/server.log" 2>&1 &
server=$!
until grep -q 'action: server_listening |' "$dir/server.log" 2>/dev/null; do
  kill -0 "$server" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  sleep 0.001
done
t1=$(date +%s%N)
clients=()
for ((i = 1; i <= agencies; i++)); do
  /usr/bin/time -f "%U %S" -o "$dir/time-$i" "$deno" "${flags[@]}" client --id "$i" \
    --server-address "127.0.0.1:$port" --data "$data/agency-$i.csv" >"$dir/client-$i.log" 2>&1 &
  clients+=($!)
done
status=0
for pid in "${clients[@]}"; do wait "$pid" || status=1; done
t2=$(date +%s%N)
read -r -a stat <<<"$(sed 's/.*) //' "/proc/$server/stat")"
server_cpu=$(((stat[11] + stat[12]) * 10))
clients_cpu=$(cat "$dir"/time-* | awk '{ s += $1 + $2 } END { printf "%d", s * 1000 }')
kill "$server"
wait "$server" || true
server=
[[ $status -eq 0 ]] || { tail -n 5 "$dir"/client-*.log >&2; exit 1; }
echo "wall_ms=$(((t2 - t0) / 1000000)) listening_ms=$(((t1 - t0) / 1000000))" \
  "server_cpu_ms=$server_cpu clients_cpu_ms=$clients_cpu rows=$(wc -l <"$dir/bets.csv")"
