#!/usr/bin/env bash
# Runs one sslcluster node as the `custom` system of the anchor script (../shared/bench-anchors/run.sh), which
# exec-s this script, pins it to one core and stops it with SIGTERM. This script stays in the foreground: it starts
# the node in the background, waits until /readyz answers, imports the two certificates and applies the benchmark
# configuration when the data folder does not hold it yet, then waits on the node, forwarding SIGTERM/SIGINT to it,
# and exits with the node's status.
#
#   start-node.sh --build DIR --data DIR --certs DIR --p12 PORT --p13 PORT --backend PORT
#                 [--admin-port N] [--remoting-port N] [--http-reuse] [--http-header] [--h2] [--warm-up N] [--clear PORT] [--prepare]
#
#   --build DIR     holds node/sslnode.dll and cli/sslctl.dll (bench/run.sh builds them there)
#   --certs DIR     rsa2048.pem and ecp256.pem, each a certificate and its unencrypted key (the anchor's @WORK@/certs)
#   --http-reuse    both ssl-servers read HTTP and keep back-end connections between clients (ssl-server N http-reuse),
#                   as HAProxy in mode http does; without it each client connection gets its own back-end connection
#   --http-header   both ssl-servers insert the SSL session fields and one static line into every request
#                   (ssl-server N http-header session / static), to measure what header insertion costs
#   --h2            both ssl-servers agree h2 by ALPN (ssl-server N alpn h2 http/1.1) and pass HTTP/2 to the back end,
#                   which must then speak HTTP/2 in clear text (prior knowledge)
#   --clear PORT    also a clear-text content rule on 127.0.0.1:PORT relaying to the back end (no TLS: the relay alone)
#   --warm-up N     the node's data-path warm-up runs N connections before it listens (sslcluster.proxy.warm-up-connections;
#                   the node's default, 400, when not given). bench/run.sh gives 0: see bench/README.md
#   --prepare       configure the data folder, stop the node, exit 0 (bench/run.sh does this before the runs: the
#                   anchor script waits only 5 s for the TLS port, which a node started on an empty folder, then
#                   configured, does not always meet on a loaded 2-core machine; a configured folder brings its
#                   listeners back at start-up in 2-4 s)
#
# Configuration applied (the anchor's contract): port P12 serves ECDHE-RSA-AES128-GCM with the RSA-2048 certificate,
# port P13 TLS 1.3 AES-128-GCM with the ECDSA P-256 certificate, both forwarding clear text to 127.0.0.1:BACKEND
# (a cipher destination that is not a content rule is dialled directly).
set -u

BUILD="" DATA="" CERTS="" P12="" P13="" BACKEND="" ADMIN=18490 REMOTING=18491 PREPARE=0 REUSE="" WARMUP=() CLEAR=""
# The key files need an export password (CertStoreImporter); it protects only a later 'copy ssl ... export'.
EXPORT_PASSWORD=bench-export-only

log() { printf '[start-node %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        --data) DATA=$2; shift 2 ;;
        --certs) CERTS=$2; shift 2 ;;
        --p12) P12=$2; shift 2 ;;
        --p13) P13=$2; shift 2 ;;
        --backend) BACKEND=$2; shift 2 ;;
        --admin-port) ADMIN=$2; shift 2 ;;
        --remoting-port) REMOTING=$2; shift 2 ;;
        --prepare) PREPARE=1; shift ;;
        --clear) CLEAR=$2; shift 2; case $CLEAR in ''|*[!0-9]*) die "--clear takes a port number" ;; esac ;;
        --warm-up) WARMUP=(--set "sslcluster.proxy.warm-up-connections=$2"); shift 2 ;;
        --http-reuse) REUSE="${REUSE:+$REUSE
}  ssl-server 1 http-reuse"; shift ;;
        --http-header) REUSE="${REUSE:+$REUSE
}  ssl-server 1 http-header session
  ssl-server 1 http-header static \"X-Offload:sslcluster\""; shift ;;
        --h2) REUSE="${REUSE:+$REUSE
}  ssl-server 1 alpn h2 http/1.1"; shift ;;
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
done
for v in BUILD DATA CERTS P12 P13 BACKEND; do [ -n "${!v}" ] || die "--$(tr 'A-Z' 'a-z' <<< "$v") is required"; done
NODE_DLL=$BUILD/node/sslnode.dll
CLI_DLL=$BUILD/cli/sslctl.dll
[ -f "$NODE_DLL" ] || die "$NODE_DLL is missing (bench/run.sh builds it)"
[ -f "$CLI_DLL" ] || die "$CLI_DLL is missing (bench/run.sh builds it)"
[ -s "$CERTS/rsa2048.pem" ] && [ -s "$CERTS/ecp256.pem" ] || die "$CERTS/rsa2048.pem or ecp256.pem is missing"
mkdir -p "$DATA"

config() {
    cat <<EOF
ssl associate rsakey rk rsa2048-key
ssl associate cert rc rsa2048-cert
ssl associate ecdsakey ek ecp256-key
ssl associate cert ec ecp256-cert
ssl-proxy-list p12
  ssl-server 1
  ssl-server 1 rsakey rk
  ssl-server 1 rsacert rc
  ssl-server 1 vip address 127.0.0.1
  ssl-server 1 port $P12
  ssl-server 1 cipher ecdhe-rsa-with-aes-128-gcm-sha256 127.0.0.1 $BACKEND
$REUSE
  active
ssl-proxy-list p13
  ssl-server 1
  ssl-server 1 ecdsakey ek
  ssl-server 1 ecdsacert ec
  ssl-server 1 vip address 127.0.0.1
  ssl-server 1 port $P13
  ssl-server 1 cipher tls13-aes-128-gcm-sha256 127.0.0.1 $BACKEND
  ssl-server 1 version tls1.3
$REUSE
  active
service m12
  type ssl-accel
  add ssl-proxy-list p12
  active
service m13
  type ssl-accel
  add ssl-proxy-list p13
  active
owner bench
  content c12
    vip address 127.0.0.1
    port $P12
    protocol tcp
    add service m12
    active
  content c13
    vip address 127.0.0.1
    port $P13
    protocol tcp
    add service m13
    active
EOF
    [ -z "$CLEAR" ] || cat <<EOF
service web
  ip address 127.0.0.1
  port $BACKEND
  active
owner bench
  content clear
    vip address 127.0.0.1
    port $CLEAR
    add service web
    active
EOF
}
# What the folder must hold: this configuration and these two certificates.
WANT=$( { config; cat "$CERTS/rsa2048.pem" "$CERTS/ecp256.pem"; } | sha256sum | cut -c1-32)
MARKER=$DATA/bench-configured
ctl() { dotnet "$CLI_DLL" --endpoint "http://127.0.0.1:$ADMIN" --data-dir "$DATA" "$@"; }

# A port taken by something else would make the node fail late and obscurely: say so now.
for p in "$ADMIN" "$REMOTING"; do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && die "port $p is already in use (choose --admin-port/--remoting-port)"
done

# As the product's launchers (run.sh, the container image) start it: two glibc malloc arenas unless the caller chose
# (docs/configuration.md, "Memory: glibc's malloc arenas"). MALLOC_ARENA_MAX=default here leaves glibc's own default.
[ "${MALLOC_ARENA_MAX:-}" = default ] && unset MALLOC_ARENA_MAX || export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
log "starting sslnode (data $DATA, admin $ADMIN, remoting $REMOTING, MALLOC_ARENA_MAX ${MALLOC_ARENA_MAX:-unset})"
dotnet "$NODE_DLL" --data-dir "$DATA" --admin-port "$ADMIN" --remoting-port "$REMOTING" "${WARMUP[@]}" &
NODE_PID=$!
echo "$NODE_PID" > "$DATA/node.pid"

# How long the node may take to stop after TERM before it is killed: 3.5 s by default, because the anchor script kills
# this wrapper 5 s after its own TERM; bench/run.sh's drain pass gives it the whole drain (STOP_WAIT=60).
STOP_WAIT=${STOP_WAIT:-3.5}
[[ $STOP_WAIT =~ ^[0-9]+(\.[0-9])?$ ]] || die "STOP_WAIT must be seconds, at most one decimal (got '$STOP_WAIT')"
stop_node() { # TERM, then KILL after STOP_WAIT
    local i
    kill -TERM "$NODE_PID" 2>/dev/null || return 0
    for i in $(seq 1 "$(awk "BEGIN { print int($STOP_WAIT * 10) }")"); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$NODE_PID" 2>/dev/null && { log "node did not stop in $STOP_WAIT s: SIGKILL"; kill -KILL "$NODE_PID" 2>/dev/null; }
    wait "$NODE_PID" 2>/dev/null
}
trap 'log "signal: stopping the node"; stop_node; exit 143' TERM INT

t0=$(date +%s%N)
ready=0
for _ in $(seq 1 600); do   # 60 s at most
    kill -0 "$NODE_PID" 2>/dev/null || { wait "$NODE_PID"; die "sslnode exited (status $?) before it was ready"; }
    if curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$ADMIN/readyz"; then ready=1; break; fi
    sleep 0.1
done
[ "$ready" = 1 ] || { stop_node; die "sslnode not ready within 60 s"; }
log "ready after $(( ($(date +%s%N) - t0) / 1000000 )) ms"

if [ "$(cat "$MARKER" 2>/dev/null)" != "$WANT" ]; then
    log "configuring the data folder (certificates and benchmark configuration)"
    files=$(ctl show ssl files) || { stop_node; die "sslctl show ssl files failed"; }
    for name in rsa2048 ecp256; do
        if grep -q "^$name-key " <<< "$files"; then
            # A folder configured from other certificates: the stored names would point at the wrong keys.
            stop_node; die "$DATA already holds '$name-key' from other certificates; use an empty --data folder"
        fi
        ctl copy ssl "file:$CERTS/$name.pem" import "$name" pem "$EXPORT_PASSWORD" >&2 || { stop_node; die "import of $name.pem failed"; }
    done
    config | ctl configure - >&2 || { stop_node; die "configuration refused"; }
    echo "$WANT" > "$MARKER"
fi

if [ "$PREPARE" = 1 ]; then
    log "prepared; stopping the node"
    stop_node
    exit 0
fi

# Stay in the foreground until the node ends (a trapped signal interrupts wait and runs stop_node).
wait "$NODE_PID"
rc=$?
log "sslnode exited with status $rc"
exit "$rc"
