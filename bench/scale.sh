#!/usr/bin/env bash
# The configuration at scale (issue 10), a benchmark and not a test: three real nodes on one PostgreSQL journal with
# mutual TLS between them, 10,000 RSA-2048 key+certificate pairs imported through node 1, 2,000 ssl-servers over 111
# proxy lists and VIPs (one list of the reference's maximum of 255 ssl-servers on one VIP, chosen by SNI), then:
#   - configure -> in force on every node, for the whole configuration and for one more ssl-server (5 times);
#   - resident memory per node;
#   - handshakes/s of the 255-name VIP against a one-name VIP on node 1;
#   - `sslctl cluster rolling-restart` of the three nodes (this script restarts each after its drain) under a client
#     load over all the ssl-server names, retried on another node when a connection fails: time, requests, failures;
#   - a fourth node started empty: time until it holds the store's revision and is ready.
#
#   bench/scale.sh                          PAIRS=10000 SERVERS=2000; about 30 minutes on 2 cores (the pairs are
#                                           made once and kept in WORK; importing them is most of the time)
#   PAIRS=2000 SERVERS=1000 bench/scale.sh  a smaller run
# Output: bench/results/scale-<date-time>/figures.tsv and report.md; node logs in WORK/n*.log.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=${WORK:-/tmp/sslcluster-scale}
PAIRS=${PAIRS:-10000}
SERVERS=${SERVERS:-2000}
RESULTS=${RESULTS:-$HERE/results/scale-$(date +%Y%m%d-%H%M%S)}
log() { printf '[scale %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

mkdir -p "$WORK" "$RESULTS"
log "building (Release) into $WORK/build"
# The node published for linux-x64 as a deployment is (the container image, bench/run.sh): with ReadyToRun code, so a
# restarted node starts on precompiled code rather than compiling Akka and the rest while the load shares its cores.
rm -rf "$WORK/build/node"
dotnet publish "$ROOT/src/Node/SslCluster.Node.csproj" -c Release -r linux-x64 --self-contained false -o "$WORK/build/node" -nologo -v q >/dev/null
dotnet build "$ROOT/src/Cli/SslCluster.Cli.csproj" -c Release -o "$WORK/build/cli" -nologo -v q >/dev/null
dotnet build "$HERE/ScaleBench/ScaleBench.csproj" -c Release -o "$WORK/build/bench" -nologo -v q >/dev/null

export SSLCLUSTER_PG_DIR=/tmp/sslcluster-scale-pg SSLCLUSTER_PG_PORT=55460
PG=$("$ROOT/scripts/test-postgres.sh" start | tail -n 1)
SSLCLUSTER_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export SSLCLUSTER_MASTER_KEY
TLSDIR="$WORK/remoting"
if [ ! -f "$TLSDIR/node.p12" ]; then
  mkdir -p "$TLSDIR"; chmod 700 "$TLSDIR"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLSDIR/ca.key" -out "$TLSDIR/ca.pem" -days 825 -subj "/CN=scale bench CA" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' > "$TLSDIR/node.ext"
  openssl req -newkey rsa:2048 -nodes -keyout "$TLSDIR/node.key" -out "$TLSDIR/node.csr" -subj "/CN=scale bench node" 2>/dev/null
  openssl x509 -req -in "$TLSDIR/node.csr" -CA "$TLSDIR/ca.pem" -CAkey "$TLSDIR/ca.key" -CAcreateserial -out "$TLSDIR/node.pem" -days 825 -extfile "$TLSDIR/node.ext" 2>/dev/null
  head -c 18 /dev/urandom | base64 > "$TLSDIR/password"
  openssl pkcs12 -export -in "$TLSDIR/node.pem" -inkey "$TLSDIR/node.key" -out "$TLSDIR/node.p12" -passout "file:$TLSDIR/password"
fi
SSLCLUSTER_REMOTING_TLS_PASSWORD=$(cat "$TLSDIR/password")
export SSLCLUSTER_REMOTING_TLS_PASSWORD

# Each node runs under a supervisor loop that starts it again when it exits 0 (a drain: the rolling restart), as
# Kubernetes or systemd would; pids holds each node's current process, sups the loops.
pids=() sups=()
stop() {
  trap '' INT TERM
  touch "$WORK/stop"
  # A supervisor may have started its node again just before the stop file appeared: ask until every loop has
  # ended, and kill what is still running after 60 s (a node's drain gives up after 35 s).
  local sup n
  for n in $(seq 1 120); do
    for sup in "${sups[@]}"; do pkill -TERM -P "$sup" 2>/dev/null || true; done
    sleep 0.5
    for sup in "${sups[@]}"; do kill -0 "$sup" 2>/dev/null && continue 2; done
    break
  done
  for sup in "${sups[@]}"; do pkill -KILL -P "$sup" 2>/dev/null || true; kill -KILL "$sup" 2>/dev/null || true; done
  for sup in "${sups[@]}"; do wait "$sup" 2>/dev/null || true; done
  "$ROOT/scripts/test-postgres.sh" stop >/dev/null 2>&1 || true
}
trap stop EXIT
trap 'exit 1' INT TERM
rm -f "$WORK/stop"

# Cluster Bootstrap with the three first nodes as contact points (and a later node's own): a node started again joins
# the cluster the others hold, where a first seed started again alone would form a second cluster of itself.
contact_points() { local n out=""; for n in $(printf '%s\n' 1 2 3 "$1" | sort -un); do out+="${out:+,}127.0.0.$n:4300"; done; echo "$out"; }

supervise() {
  local i=$1 rc
  while :; do
    rc=0
    dotnet "$WORK/build/node/sslnode.dll" --data-dir "$WORK/n$i" --hostname "127.0.0.$i" --remoting-port 4200 \
      --contact-points "$(contact_points "$i")" --management-port 4300 --admin-port $((18500 + i)) --journal-postgres "$PG" \
      --remoting-tls "$TLSDIR/node.p12,$TLSDIR/ca.pem" --address-map "127.0.0.1=127.0.0.$i" >> "$WORK/n$i.log" 2>&1 || rc=$?
    [ -f "$WORK/stop" ] && return 0
    [ "$rc" -eq 0 ] || { log "node $i exited with $rc; see $WORK/n$i.log"; return "$rc"; }
    echo "[scale.sh] node $i drained and exited 0: starting it again" >> "$WORK/n$i.log"
  done
}

# Waits until node i answers /readyz and records its current process in pids.
wait_node() {
  local i=$1 pid
  for _ in $(seq 1 240); do
    if curl -sf -o /dev/null "http://127.0.0.1:$((18500 + i))/readyz"; then
      pid=$(pgrep -o -P "${sups[$((i - 1))]}" -f sslnode.dll || true)
      [ -n "$pid" ] && { pids[$((i - 1))]=$pid; return 0; }
    fi
    kill -0 "${sups[$((i - 1))]}" 2>/dev/null || { log "node $i stopped; see $WORK/n$i.log"; exit 1; }
    sleep 0.5
  done
  log "node $i not ready after 2 minutes"; exit 1
}

# Starts node i on an empty data folder (without waiting: the first three must start together, as bootstrap waits for
# every contact point before it forms the cluster).
start_node() {
  local i=$1
  rm -rf "$WORK/n$i" "$WORK/n$i.log"
  supervise "$i" &
  sups[$((i - 1))]=$!
}
node_arg() { echo "$1:$((18500 + $1)):$WORK/n$1:${pids[$(($1 - 1))]}"; }

log "starting nodes 1-3"
for i in 1 2 3; do start_node "$i"; done
for i in 1 2 3; do wait_node "$i"; done
log "load: $PAIRS pairs, $SERVERS ssl-servers"
dotnet "$WORK/build/bench/ScaleBench.dll" --phase load --work "$WORK" --pairs "$PAIRS" --servers "$SERVERS" \
  --node "$(node_arg 1)" --node "$(node_arg 2)" --node "$(node_arg 3)" | tee "$RESULTS/figures.tsv"

log "roll: sslctl cluster rolling-restart of the three nodes under load"
roll_rc=0
dotnet "$WORK/build/bench/ScaleBench.dll" --phase roll --work "$WORK" --servers "$SERVERS" --sslctl "$WORK/build/cli/sslctl.dll" \
  --node "$(node_arg 1)" --node "$(node_arg 2)" --node "$(node_arg 3)" | tee -a "$RESULTS/figures.tsv" || roll_rc=$?
[ "$roll_rc" -eq 0 ] || log "the rolling restart phase failed (exit $roll_rc): see its notes above"
for i in 1 2 3; do wait_node "$i"; done

log "join: a fourth node with an empty data folder"
started=$(date +%s%3N)
start_node 4
wait_node 4
dotnet "$WORK/build/bench/ScaleBench.dll" --phase join --work "$WORK" --started-at "$started" \
  --node "$(node_arg 1)" --node "$(node_arg 4)" | tee -a "$RESULTS/figures.tsv"

{
  echo "# Configuration at scale ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores)"
  echo
  echo "Three nodes plus a fourth that joins, one PostgreSQL journal, mutual TLS between nodes, all on one machine."
  echo "$PAIRS RSA-2048 key+certificate pairs in the store, $SERVERS ssl-servers (255 on one VIP by SNI)."
  echo
  echo "| figure | value | unit |"
  echo "|---|---|---|"
  awk -F'\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$RESULTS/figures.tsv"
} > "$RESULTS/report.md"
log "report: $RESULTS/report.md"
exit "$roll_rc"
