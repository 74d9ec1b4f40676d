#!/usr/bin/env bash
# Runs the product on this machine: one node on the embedded defaults - a SQLite journal under ./data, a generated
# self-signed certificate, a demo VIP https://127.0.0.1:8443 that terminates TLS and forwards to a bundled HTTP
# backend - and prints how to try it with curl and with the CLI. Ctrl-C stops it cleanly.
#
#   ./run.sh                      the demo node (data in ./data; state survives restarts)
#   ./run.sh --data-dir DIR       another data folder
#   ./run.sh -- [sslnode options] pass options through (see: ./run.sh -- --help)
#   ./run.sh --nodes 3            a local cluster: nodes on 127.0.0.1..N formed by Akka Cluster Bootstrap, a private
#                                 PostgreSQL journal, the demo VIP served by every node on its own address; Ctrl-C
#                                 stops all of it
set -euo pipefail
cd "$(dirname "$0")"

DATA=data
NODES=1
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) DATA=$2; shift 2 ;;
    --nodes)
      NODES=${2:-}
      case "$NODES" in [1-9]) ;; *) echo "run.sh: --nodes takes a number from 1 to 9, not '$NODES'" >&2; exit 2 ;; esac
      shift 2 ;;
    --) shift; PASS=("$@"); break ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done

command -v dotnet >/dev/null || { echo "run.sh: the .NET SDK is needed (dotnet on PATH)" >&2; exit 1; }
if ! command -v openssl >/dev/null || ! command -v curl >/dev/null; then
  echo "run.sh: installing openssl and curl (used to try the demo)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq openssl curl >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq openssl curl >/dev/null; fi
fi

# The nodes get two glibc malloc arenas rather than eight per core: OpenSSL's per-connection state is malloc'ed on many
# threads, and fewer arenas hold about 1 KiB less per idle TLS connection (docs/configuration.md, "Memory: glibc's
# malloc arenas"). MALLOC_ARENA_MAX set by the caller wins; MALLOC_ARENA_MAX=default leaves glibc's own.
if [ "${MALLOC_ARENA_MAX:-}" = default ]; then unset MALLOC_ARENA_MAX; NODE_ENV=(); else NODE_ENV=("MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}"); fi

echo "run.sh: building (Release)..." >&2
dotnet build src/Node/SslCluster.Node.csproj -c Release -o .run/node -nologo -v q >/dev/null
dotnet build src/Cli/SslCluster.Cli.csproj -c Release -o .run/cli -nologo -v q >/dev/null

if [ "$NODES" = 1 ]; then
  # exec: the node is the foreground process, so Ctrl-C and SIGTERM reach it and run its coordinated shutdown.
  exec env "${NODE_ENV[@]}" dotnet .run/node/sslnode.dll --demo --data-dir "$DATA" "${PASS[@]}"
fi

# A local cluster: one PostgreSQL journal, one master key, node i on 127.0.0.i (remoting 4100, admin 9440+i); each
# node maps the demo VIP 127.0.0.1 to its own address, so the same VIP is served on 127.0.0.1..N.
CLUSTER="$DATA-cluster"
mkdir -p "$CLUSTER"
export SSLCLUSTER_PG_DIR=/tmp/sslcluster-run-pg SSLCLUSTER_PG_PORT=55450
PG=$(./scripts/test-postgres.sh start | tail -n 1)
[ -f "$CLUSTER/master.key.b64" ] || { head -c 32 /dev/urandom | base64 > "$CLUSTER/master.key.b64"; chmod 600 "$CLUSTER/master.key.b64"; }
SSLCLUSTER_MASTER_KEY=$(cat "$CLUSTER/master.key.b64")
export SSLCLUSTER_MASTER_KEY
# Mutual TLS between the nodes: a cluster CA made here once, one certificate for the local nodes (both usages).
TLSDIR="$CLUSTER/remoting"
if [ ! -f "$TLSDIR/node.p12" ]; then
  mkdir -p "$TLSDIR"; chmod 700 "$TLSDIR"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLSDIR/ca.key" -out "$TLSDIR/ca.pem" -days 825 -subj "/CN=sslcluster local CA" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' > "$TLSDIR/node.ext"
  openssl req -newkey rsa:2048 -nodes -keyout "$TLSDIR/node.key" -out "$TLSDIR/node.csr" -subj "/CN=sslcluster local node" 2>/dev/null
  openssl x509 -req -in "$TLSDIR/node.csr" -CA "$TLSDIR/ca.pem" -CAkey "$TLSDIR/ca.key" -CAcreateserial -out "$TLSDIR/node.pem" -days 825 -extfile "$TLSDIR/node.ext" 2>/dev/null
  head -c 18 /dev/urandom | base64 > "$TLSDIR/password"
  openssl pkcs12 -export -in "$TLSDIR/node.pem" -inkey "$TLSDIR/node.key" -out "$TLSDIR/node.p12" -passout "file:$TLSDIR/password"
  rm -f "$TLSDIR/node.csr" "$TLSDIR/node.key"
fi
SSLCLUSTER_REMOTING_TLS_PASSWORD=$(cat "$TLSDIR/password")
export SSLCLUSTER_REMOTING_TLS_PASSWORD
pids=()
stop() {
  # Ctrl-C reaches the whole process group; a second signal must not cut the clean-up short.
  trap '' INT TERM
  echo "run.sh: stopping the cluster..." >&2
  touch "$CLUSTER/stopping"
  # Each node drains (SIGTERM); the database stops only once every node process is gone. A supervisor that was about
  # to start a node again sees the stopping file first, or stops the node it just started.
  for i in $(seq 1 "$NODES"); do [ -f "$CLUSTER/n$i.pid" ] && kill -TERM "$(cat "$CLUSTER/n$i.pid")" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for i in $(seq 1 "$NODES"); do
    if [ -f "$CLUSTER/n$i.pid" ]; then while kill -0 "$(cat "$CLUSTER/n$i.pid")" 2>/dev/null; do sleep 0.2; done; fi
  done
  rm -f "$CLUSTER/stopping" "$CLUSTER"/n*.pid
  ./scripts/test-postgres.sh stop
  echo "run.sh: stopped" >&2
}
trap stop EXIT
trap 'exit 0' INT TERM
# Cluster Bootstrap forms the cluster: every node lists the management endpoints (127.0.0.i:8558) of all of them, and
# the cluster forms once they all answer, so the nodes start together. The oldest node creates the demo configuration.
points=$(for i in $(seq 1 "$NODES"); do printf '127.0.0.%s:8558,' "$i"; done)
# Each node is supervised, as Kubernetes would: one that exits after a drain (sslctl node drain, cluster leave, cluster
# rolling-restart) is started again at its address with its data folder, until run.sh stops.
rm -f "$CLUSTER/stopping" "$CLUSTER"/n*.pid
supervise() {
  local i=$1
  # Ctrl-C reaches this subshell too: it must outlive it, so that run.sh's stop can wait for its node to drain.
  trap '' INT
  while :; do
    [ -f "$CLUSTER/stopping" ] && return 0
    env "${NODE_ENV[@]}" dotnet .run/node/sslnode.dll --demo --data-dir "$CLUSTER/n$i" --hostname "127.0.0.$i" --remoting-port 4100 \
      --contact-points "${points%,}" --management-port 8558 --admin-port $((9440 + i)) --journal-postgres "$PG" \
      --remoting-tls "$TLSDIR/node.p12,$TLSDIR/ca.pem" \
      --address-map "127.0.0.1=127.0.0.$i" "${PASS[@]}" >> "$CLUSTER/n$i.log" 2>&1 &
    echo $! > "$CLUSTER/n$i.pid"
    [ -f "$CLUSTER/stopping" ] && kill -TERM $! 2>/dev/null
    local status=0
    wait $! || status=$?
    [ -f "$CLUSTER/stopping" ] && return 0
    # A node that failed (not a drain) is left stopped: starting it again in a loop would hide the reason.
    [ "$status" = 0 ] || { echo "run.sh: node $i exited with status $status; see $CLUSTER/n$i.log" >&2; return 1; }
    echo "run.sh: node $i left after a drain; starting it again" >&2
    sleep 1
  done
}
for i in $(seq 1 "$NODES"); do
  : > "$CLUSTER/n$i.log"
  supervise "$i" &
  pids+=($!)
done
for i in $(seq 1 "$NODES"); do
  served=no
  for _ in $(seq 1 240); do
    curl -sk -o /dev/null "https://127.0.0.$i:8443/" && { served=yes; break; }
    kill -0 "${pids[$((i - 1))]}" 2>/dev/null || { echo "run.sh: node $i stopped; see $CLUSTER/n$i.log" >&2; exit 1; }
    sleep 0.5
  done
  [ "$served" = yes ] || { echo "run.sh: node $i does not serve the demo VIP after 120 s; see $CLUSTER/n$i.log" >&2; exit 1; }
done
echo
echo "Local cluster of $NODES nodes is up (mutual TLS between nodes; journal: PostgreSQL on 127.0.0.1:55450; logs: $CLUSTER/n*.log)."
for i in $(seq 1 "$NODES"); do
  echo "  node $i: curl -k https://127.0.0.$i:8443/     ./sslctl --endpoint http://127.0.0.1:$((9440 + i)) --data-dir $CLUSTER/n$i show ssl flows"
done
echo "  ./sslctl --endpoint http://127.0.0.1:9441 --data-dir $CLUSTER/n1 cluster show      (also: cluster shards)"
echo "  TLS session from node 1 resumed on node 2:"
echo "    openssl s_client -connect 127.0.0.1:8443 -tls1_2 -sess_out /tmp/s.pem </dev/null | grep -E 'New|Reused'"
echo "    openssl s_client -connect 127.0.0.2:8443 -tls1_2 -sess_in /tmp/s.pem </dev/null | grep -E 'New|Reused'"
if [ "$NODES" -ge 2 ]; then
  echo "  drain node $NODES (it stops accepting, hands its shards off, waits for its connections, leaves; run.sh starts it again):"
  echo "    ./sslctl --endpoint http://127.0.0.1:$((9440 + NODES)) --data-dir $CLUSTER/n$NODES node drain"
  echo "  restart every node in turn, with zero failed requests:"
  echo "    ./sslctl --endpoint http://127.0.0.1:9441 --data-dir $CLUSTER/n1 cluster rolling-restart"
fi
echo "Ctrl-C stops every node and the database."
wait "${pids[0]}"
