#!/usr/bin/env bash
# Benchmark harness (not a test): our node side by side with HAProxy in its two set-ups, in the same runs, on the
# same certificates and the same plain nginx backend, using the shared anchor script (../shared/bench-anchors/run.sh
# from the repository root), which installs HAProxy/nginx/h2load/wrk with apt, pins the proxy under test to core 0
# and the load generator and backend to core 1, and measures full/resumed handshakes/s, keep-alive requests/s and
# 1 MiB bulk MB/s.
# The two HAProxy systems of the anchor script: `haproxy` (mode http: parses HTTP and re-uses back-end connections;
# ports 18443/18444) and `haproxy-tcp` (mode tcp: layer 4, one back-end connection per client connection, as our
# node; ports 18433/18434). Our node (OpenSSL, its only TLS engine) is the anchor's `custom` system, named sslcluster.
#
#   sudo bench/run.sh                       # everything, about 10-12 minutes on 2 cores
#   sudo PASSES="main memory" bench/run.sh  # a subset (passes below, in this order)
#
# Passes (each one invocation of the anchor script, except memory):
#   main      haproxy + haproxy-tcp + our node, default client (offers TLS 1.2 and 1.3)
#   tls12     haproxy + haproxy-tcp + our node, h2load/wrk told not to offer TLS 1.3 (client-no-tls13.cnf): the
#             TLS 1.2 RSA-2048 rows whatever the client's default (once needed because our node negotiated 1.3 on
#             the RSA port; its cipher lines now cap that port at 1.2, so these rows mostly repeat main's RSA rows);
#             the rows of the TLS 1.3-only port fail in this pass (that port refuses TLS 1.2) and are not used
#   memory    resident memory per idle TLS connection, IDLE_N (5,000) of them (anchor idle_conns.py), both ports, fresh process per
#             row: haproxy, haproxy-tcp (when a main or tls12 pass has written $WORK/conf/haproxy-tcp.cfg) and our node
#   drain     (only when named) DRAIN_N (3,000) idle keep-alive TLS clients per server, then its graceful stop
#             (HAProxy SIGUSR1, ours SIGTERM): how many were closed cleanly, cut or left open, and when the server
#             exited (bench/drain_conns.py); same needs as memory
# Durations: DUR / HS_SECONDS / REPEAT of the anchor script, per pass (MAIN_*, TLS12_*), defaults below.
# Output: bench/results/<date-time>/<pass>/ (the anchor script's results.tsv, summary.md, raw/), memory.tsv,
# report.md (the tables of docs/benchmarks.md, ratios ours / HAProxy http and ours / HAProxy tcp). WORK (default
# /tmp/sslcluster-bench) holds certificates, configurations, logs, the build and the node's data folder.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- the anchor script
find_anchors() {
    local tried=() d common
    for d in "${ANCHORS_DIR:-}" "$ROOT/../shared/bench-anchors"; do
        [ -n "$d" ] || continue
        tried+=("$d")
        [ -f "$d/run.sh" ] && { (cd "$d" && pwd); return 0; }
    done
    # a git worktree: shared/ sits beside the main checkout
    common=$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null) && {
        d=$(dirname "$(dirname "$common")")/shared/bench-anchors
        tried+=("$d")
        [ -f "$d/run.sh" ] && { (cd "$d" && pwd); return 0; }
    }
    log "ERROR: the anchor script run.sh was not found; looked in: ${tried[*]}"
    log "       set ANCHORS_DIR to the folder holding run.sh, idle_conns.py and templates/"
    return 1
}
ANCHORS=$(find_anchors) || exit 1
for f in run.sh idle_conns.py mk_tables.py templates/haproxy.cfg.tmpl templates/haproxy-tcp.cfg.tmpl; do
    [ -f "$ANCHORS/$f" ] || die "$ANCHORS/$f is missing"
done

[ "$(id -u)" = 0 ] || die "run as root (sudo bench/run.sh): the anchor script installs packages with apt-get"
command -v dotnet >/dev/null || die "the .NET SDK (dotnet) is needed"
for c in curl openssl python3 taskset; do command -v "$c" >/dev/null || die "$c is needed"; done
[ "$(nproc)" -ge 2 ] || die "needs 2 cores (proxy on core 0, load generator and backend on core 1)"

WORK=${WORK:-/tmp/sslcluster-bench}
RESULTS=${RESULTS:-$HERE/results/$(date +%Y%m%d-%H%M%S)}
PASSES=${PASSES:-"main tls12 memory"}
# HTTP_REUSE=1 (default): our ssl-servers read HTTP and re-use back-end connections (ssl-server N http-reuse), as
# HAProxy http does; HTTP_REUSE=0: one back-end connection per client connection, bytes relayed as they come.
HTTP_REUSE=${HTTP_REUSE:-1}
case $HTTP_REUSE in 1) REUSE_ARG=--http-reuse ;; 0) REUSE_ARG="" ;; *) die "HTTP_REUSE must be 0 or 1" ;; esac
# HTTP_HEADER=1: our ssl-servers also insert headers (ssl-server N http-header: the session's lines and a static one),
# so they read HTTP even with HTTP_REUSE=0 (the drain pass's HTTP flows without back-end connection re-use).
HTTP_HEADER=${HTTP_HEADER:-0}
case $HTTP_HEADER in 1) REUSE_ARG="$REUSE_ARG --http-header" ;; 0) ;; *) die "HTTP_HEADER must be 0 or 1" ;; esac
WARM_UP=${WARM_UP:-400}
[[ $WARM_UP =~ ^[0-9]+$ ]] || die "WARM_UP must be a number of connections (0 turns the warm-up off)"
# The systems of the main and tls12 passes (the anchor script's names; custom is our node).
PROXIES="haproxy haproxy-tcp custom"
BUILD=$WORK/build
DATA=$WORK/sslnode-data
NOTLS13=$HERE/client-no-tls13.cnf
# pass memory: idle clients per server and port. 5,000 rather than the anchor's 1,000: at 1,000 the GC heap's commit
# steps (about 11 MB) move our figure by up to 5 KiB per connection between two runs of one build; at 5,000 they no
# longer decide it (docs/benchmarks.md). HAProxy tcp holds at most about 4,000 here (its back end's maxconn): its row
# is measured over what it held within the client's 60 s. IDLE_N=1000 gives the anchor's figure.
IDLE_N=${IDLE_N:-5000}
# pass drain (not in the default PASSES): idle keep-alive clients per server before its graceful stop; the servers'
# maxconn (HAProxy 8,000; a back end's 4,000 in mode tcp) and this machine's open-file limit bound it
DRAIN_N=${DRAIN_N:-3000}
# DRAIN_ALPN=1: the drain pass's clients offer http/1.1 by ALPN, as browsers and curl do (bench/drain_conns.py);
# DRAIN_ALPN=h2: they agree h2 and speak HTTP/2. Then HAProxy's binds offer h2 too (mode http speaks HTTP/1.1 to the
# back end; mode tcp and our node pass HTTP/2 to a second nginx that speaks it in clear text, on port 18082)
export DRAIN_ALPN=${DRAIN_ALPN:-}
[[ $DRAIN_ALPN =~ ^(|1|h2)$ ]] || die "DRAIN_ALPN must be empty, 1 or h2"
# the anchor script's fixed ports: backend 18080 (18081 direct), haproxy 18443/18444 (18446 plain),
# haproxy-tcp 18433/18434, custom 18483/18484
BACKEND_PORT=18080 HA12=18443 HA13=18444 HT12=18433 HT13=18434 OUR12=18483 OUR13=18484 ADMIN=18490 REMOTING=18491
mkdir -p "$WORK" "$RESULTS"
ulimit -n "$(ulimit -Hn)" 2>/dev/null
exec > >(tee -a "$RESULTS/bench.log") 2>&1
log "anchor script: $ANCHORS/run.sh; work folder $WORK; results $RESULTS; passes: $PASSES; HTTP_REUSE=$HTTP_REUSE; HTTP_HEADER=$HTTP_HEADER; WARM_UP=$WARM_UP"
printf 'HTTP_REUSE=%s\nHTTP_HEADER=%s\nWARM_UP=%s\n' "$HTTP_REUSE" "$HTTP_HEADER" "$WARM_UP" > "$RESULTS/node-mode.txt"

ports_free() {
    local p busy=()
    for p in $BACKEND_PORT 18081 18082 $HA12 $HA13 18446 $HT12 $HT13 $OUR12 $OUR13 $ADMIN $REMOTING; do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && busy+=("$p")
    done
    [ ${#busy[@]} -eq 0 ] || { log "ports in use: ${busy[*]} (ss -ltnp | grep -E '$(IFS='|'; echo "${busy[*]}")')"; return 1; }
}
ports_free || die "the benchmark ports must be free"

# ---------------------------------------------------------------- build, certificates, node data folder
T0=$(date +%s)
log "building the node and the CLI (Release) into $BUILD"
# Published for linux-x64 as a deployment is (the container image): with ReadyToRun code, so the node starts on
# precompiled code (docs/benchmarks.md, "A node that starts on precompiled code"). Framework-dependent: the SDK's runtime.
rm -rf "$BUILD/node"
dotnet publish "$ROOT/src/Node/SslCluster.Node.csproj" -c Release -r linux-x64 --self-contained false -o "$BUILD/node" \
    -nologo -v q > "$RESULTS/build.log" 2>&1 \
    || { tail -20 "$RESULTS/build.log"; die "node build failed (see $RESULTS/build.log)"; }
dotnet build "$ROOT/src/Cli/SslCluster.Cli.csproj" -c Release -o "$BUILD/cli" -nologo -v q >> "$RESULTS/build.log" 2>&1 \
    || { tail -20 "$RESULTS/build.log"; die "CLI build failed (see $RESULTS/build.log)"; }

# The same certificates the anchor script makes (it keeps existing ones): made here first, because the node's data
# folder is configured with them before the first pass.
mkdir -p "$WORK/certs"
if [ ! -s "$WORK/certs/rsa2048.pem" ] || [ ! -s "$WORK/certs/ecp256.pem" ]; then
    ( cd "$WORK/certs" &&
      openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa2048.key -out rsa2048.crt -days 365 \
          -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null &&
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ecp256.key -out ecp256.crt \
          -days 365 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null &&
      cat rsa2048.crt rsa2048.key > rsa2048.pem && cat ecp256.crt ecp256.key > ecp256.pem ) || die "certificate generation failed"
fi

# The node runs with its data-path warm-up (400 connections before it listens), as deployed: the anchor script waits
# about 5 s for the TLS port after starting a system, and the published node, pinned to one core, listens after
# 3.3-4.5 s with it (docs/benchmarks.md, "A node that starts on precompiled code"). WARM_UP=0 turns it off.
node_args() { # start-node.sh arguments with the anchor's placeholders
    printf "%q --build %q --data %q --certs @WORK@/certs --p12 @P12@ --p13 @P13@ --backend @BACKEND_PORT@ --admin-port %s --remoting-port %s --warm-up %s %s" \
        "$HERE/start-node.sh" "$BUILD" "$DATA" "$ADMIN" "$REMOTING" "$WARM_UP" "$REUSE_ARG"
}
log "configuring the node's data folder $DATA (imports both certificates, applies the benchmark configuration)"
rm -rf "$DATA"
taskset -c 0 "$HERE/start-node.sh" --build "$BUILD" --data "$DATA" --certs "$WORK/certs" --p12 $OUR12 --p13 $OUR13 \
    --backend $BACKEND_PORT --admin-port $ADMIN --remoting-port $REMOTING $REUSE_ARG --prepare > "$RESULTS/prepare.log" 2>&1 \
    || { cat "$RESULTS/prepare.log"; die "could not configure the node"; }
log "build and preparation took $(( $(date +%s) - T0 )) s"

# ---------------------------------------------------------------- passes of the anchor script
anchor_pass() { # name proxies custom_name client_cnf dur hs_seconds repeat [extra env...]
    local name=$1 proxies=$2 cname=$3 cnf=$4 dur=$5 hs=$6 rep=$7; shift 7
    local out=$RESULTS/$name t=$(date +%s) envs=()
    [ -n "$cnf" ] && envs+=(OPENSSL_CONF="$cnf")
    # the first anchor pass installs the packages (apt-get); the later ones skip that step
    if [ "$INSTALL_DONE" = 1 ]; then envs+=(SKIP_INSTALL=1); else envs+=(SKIP_INSTALL="${SKIP_INSTALL:-0}"); INSTALL_DONE=1; fi
    mkdir -p "$out"
    log "== pass $name: PROXIES='$proxies' DUR=$dur HS_SECONDS=$hs REPEAT=$rep${cnf:+ client=$(basename "$cnf")}"
    printf 'pass=%s proxies=%s custom=%s client_conf=%s DUR=%s HS_SECONDS=%s REPEAT=%s %s\n' \
        "$name" "$proxies" "$cname" "${cnf:-default}" "$dur" "$hs" "$rep" "$*" > "$out/pass.txt"
    env "${envs[@]}" "$@" WORK="$WORK" OUT="$out" PROXIES="$proxies" CUSTOM_NAME="$cname" \
        CUSTOM_START="$(node_args)" DUR="$dur" HS_SECONDS="$hs" REPEAT="$rep" \
        timeout -k 30 1500 bash "$ANCHORS/run.sh" > "$out/run.log" 2>&1
    local rc=$?
    grep -E '^\[..:..:..\]' "$out/run.log" | sed "s/^/  [$name] /" | tail -40
    log "pass $name: exit $rc after $(( $(date +%s) - t )) s"
    [ "$rc" = 0 ] || log "WARNING: pass $name failed (exit $rc); see $out/run.log"
    ports_free || { sleep 5; ports_free || die "processes of pass $name are still listening"; }
}

# ---------------------------------------------------------------- passes that start each server themselves
wait_port() { local i; for i in $(seq 1 150); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
stop() { # pid: TERM, then KILL after 6 s
    local i; kill -TERM "$1" 2>/dev/null || return 0
    for i in $(seq 1 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 0
}
# The passes that start each server themselves (memory, drain) share these: the checks and the backend, one fresh
# server process per measurement, and the result lines in $RESULTS/<pass>.tsv.
BE=""
server_pass_begin() { # pass: false (and logged) when it cannot run here; else its tsv emptied and the nginx backend up
    local pass=$1
    [ -s "$WORK/conf/haproxy.cfg" ] && [ -s "$WORK/conf/backend-$BACKEND_PORT.conf" ] \
        || { log "$pass: $WORK/conf has no haproxy/backend configuration (run pass main first); skipped"; return 1; }
    command -v haproxy >/dev/null && command -v nginx >/dev/null || { log "$pass: haproxy/nginx missing; skipped"; return 1; }
    : > "$RESULTS/$pass.tsv"
    taskset -c 1 nginx -c "$WORK/conf/backend-$BACKEND_PORT.conf" -p "$WORK" > "$WORK/logs/$pass-backend.out" 2>&1 &
    BE=$!
    wait_port $BACKEND_PORT || { stop "$BE"; log "$pass: backend did not start; skipped"; return 1; }
}
server_pass_end() { # pass start-time
    stop "$BE"
    log "pass $1: $(( $(date +%s) - $2 )) s"
    ports_free || { sleep 5; ports_free || die "processes of pass $1 are still listening"; }
}
measure_one() { # pass system port fields measure arg -- cmd... : the server "cmd..." on core 0, measured once it listens by
                # "measure arg PID PORT" (core 1); one line "fields<TAB>result" in $RESULTS/<pass>.tsv
    local pass=$1 sys=$2 port=$3 fields=$4 measure=$5 arg=$6 pid line tab=$'\t'; shift 7
    taskset -c 0 "$@" > "$WORK/logs/$pass-$sys.out" 2>&1 &
    pid=$!
    wait_port "$port" || { log "$sys did not listen on $port"; stop "$pid"; printf '%s\tFAIL\n' "$fields" >> "$RESULTS/$pass.tsv"; return; }
    sleep 1
    line=$("$measure" "$arg" "$pid" "$port" 2>&1 | tail -1)
    log "$pass ${fields//$tab/ }: $line"
    printf '%s\t%s\n' "$fields" "$line" >> "$RESULTS/$pass.tsv"
    stop "$pid"
}
ours_cmd() { # our node as the anchor script starts it, its placeholders filled in
    node_args | sed -e "s#@WORK@#$WORK#g" -e "s#@P12@#$OUR12#g" -e "s#@P13@#$OUR13#g" -e "s#@BACKEND_PORT@#$BACKEND_PORT#g"
}

# ---------------------------------------------------------------- memory per idle connection
idle_conns() { # client-cnf pid port
    env ${1:+OPENSSL_CONF=$1} taskset -c 1 timeout 120 python3 "$ANCHORS/idle_conns.py" "$2" 127.0.0.1 "$3" "$IDLE_N"
}
memory_pass() {
    local t=$(date +%s) tls13="TLS1.3 AES128-GCM (ECDSA P-256)" tls12="TLS1.2 ECDHE-RSA-AES128-GCM (RSA-2048)"
    server_pass_begin memory || return 0
    log "== pass memory: $IDLE_N idle TLS connections per server and port (anchor idle_conns.py)"
    local ha=(haproxy -f "$WORK/conf/haproxy.cfg" -db)
    local ours=(bash -c "exec $(ours_cmd)")
    # haproxy-tcp: the anchor script writes its configuration when a pass runs it (absent in older work folders)
    local ht=()
    if [ -s "$WORK/conf/haproxy-tcp.cfg" ]; then ht=(haproxy -f "$WORK/conf/haproxy-tcp.cfg" -db)
    else log "memory: $WORK/conf/haproxy-tcp.cfg is missing (run pass main or tls12 first); haproxy-tcp not measured"; fi
    measure_one memory haproxy $HA13 "haproxy"$'\t'"$tls13"$'\t'"$HA13" idle_conns "" -- "${ha[@]}"
    [ ${#ht[@]} -gt 0 ] && measure_one memory haproxy-tcp $HT13 "haproxy-tcp"$'\t'"$tls13"$'\t'"$HT13" idle_conns "" -- "${ht[@]}"
    measure_one memory sslcluster $OUR13 "sslcluster"$'\t'"$tls13"$'\t'"$OUR13" idle_conns "" -- "${ours[@]}"
    measure_one memory haproxy $HA12 "haproxy"$'\t'"$tls12"$'\t'"$HA12" idle_conns "$NOTLS13" -- "${ha[@]}"
    [ ${#ht[@]} -gt 0 ] && measure_one memory haproxy-tcp $HT12 "haproxy-tcp"$'\t'"$tls12"$'\t'"$HT12" idle_conns "$NOTLS13" -- "${ht[@]}"
    measure_one memory sslcluster $OUR12 "sslcluster"$'\t'"$tls12"$'\t'"$OUR12" idle_conns "$NOTLS13" -- "${ours[@]}"
    server_pass_end memory "$t"
}

# ---------------------------------------------------------------- a graceful stop with idle keep-alive clients
drain_conns() { # signal pid port
    taskset -c 1 timeout 300 python3 "$HERE/drain_conns.py" "$2" 127.0.0.1 "$3" "$DRAIN_N" "$1" "${DRAIN_WATCH:-45}"
}
H2_BACKEND_PORT=18082
drain_pass() {
    local t=$(date +%s) ha=$WORK/conf/haproxy.cfg ht=$WORK/conf/haproxy-tcp.cfg ours h2be=""
    server_pass_begin drain || return 0
    ours=$(ours_cmd)
    if [ "$DRAIN_ALPN" = h2 ]; then
        # The same servers offering h2 by ALPN: HAProxy's configurations with "alpn h2,http/1.1" (mode tcp's towards the
        # HTTP/2 back end), the back end's configuration listening with http2 on its own port, and our node's own data
        # folder configured with --h2 towards that port.
        sed 's#alpn http/1.1#alpn h2,http/1.1#' "$ha" > "$WORK/conf/haproxy-h2.cfg"
        [ -s "$ht" ] && sed -e 's#alpn http/1.1#alpn h2,http/1.1#' -e "s#127.0.0.1:$BACKEND_PORT #127.0.0.1:$H2_BACKEND_PORT #" \
            "$ht" > "$WORK/conf/haproxy-tcp-h2.cfg"
        sed -e "s#listen 127.0.0.1:$BACKEND_PORT #listen 127.0.0.1:$H2_BACKEND_PORT http2 #" -e "s#backend-$BACKEND_PORT#backend-$H2_BACKEND_PORT#g" \
            "$WORK/conf/backend-$BACKEND_PORT.conf" > "$WORK/conf/backend-$H2_BACKEND_PORT.conf"
        grep -q "alpn h2,http/1.1" "$WORK/conf/haproxy-h2.cfg" && grep -q "$H2_BACKEND_PORT http2" "$WORK/conf/backend-$H2_BACKEND_PORT.conf" \
            || { server_pass_end drain "$t"; log "drain: the h2 variants of the configurations could not be made; skipped"; return 0; }
        ha=$WORK/conf/haproxy-h2.cfg
        [ -s "$ht" ] && ht=$WORK/conf/haproxy-tcp-h2.cfg
        taskset -c 1 nginx -c "$WORK/conf/backend-$H2_BACKEND_PORT.conf" -p "$WORK" > "$WORK/logs/drain-backend-h2.out" 2>&1 &
        h2be=$!
        wait_port $H2_BACKEND_PORT || { stop "$h2be"; server_pass_end drain "$t"; log "drain: the HTTP/2 back end did not start; skipped"; return 0; }
        rm -rf "$DATA-h2"
        taskset -c 0 "$HERE/start-node.sh" --build "$BUILD" --data "$DATA-h2" --certs "$WORK/certs" --p12 $OUR12 --p13 $OUR13 \
            --backend $H2_BACKEND_PORT --admin-port $ADMIN --remoting-port $REMOTING $REUSE_ARG --h2 --prepare \
            > "$RESULTS/prepare-h2.log" 2>&1 || { stop "$h2be"; server_pass_end drain "$t"; log "drain: could not configure the h2 node; skipped"; return 0; }
        ours=$(ours_cmd | sed -e "s#--data $(printf %q "$DATA") #--data $(printf %q "$DATA-h2") #" -e "s#--backend $BACKEND_PORT #--backend $H2_BACKEND_PORT #")
        ours="$ours --h2"
    fi
    log "== pass drain: $DRAIN_N idle keep-alive TLS clients per server${DRAIN_ALPN:+ (ALPN: $DRAIN_ALPN)}, then its graceful stop (bench/drain_conns.py)"
    # HAProxy's graceful stop is SIGUSR1 (soft-stop); ours is SIGTERM (the drain). The TLS 1.3 ECDSA port of each.
    measure_one drain haproxy $HA13 "haproxy"$'\t'"$HA13" drain_conns USR1 -- haproxy -f "$ha" -db
    [ -s "$ht" ] && measure_one drain haproxy-tcp $HT13 "haproxy-tcp"$'\t'"$HT13" drain_conns USR1 -- haproxy -f "$ht" -db
    # The wrapper gives the node its whole drain before it would kill it (STOP_WAIT), so that the figures are the node's.
    measure_one drain sslcluster $OUR13 "sslcluster"$'\t'"$OUR13" drain_conns TERM -- env STOP_WAIT=60 bash -c "exec $ours"
    [ -n "$h2be" ] && stop "$h2be"
    server_pass_end drain "$t"
}

mkdir -p "$WORK/logs"
INSTALL_DONE=0
for pass in $PASSES; do
    case $pass in
        main)     anchor_pass main "$PROXIES" sslcluster "" \
                      "${MAIN_DUR:-8}" "${MAIN_HS_SECONDS:-4}" "${MAIN_REPEAT:-3}" SPEED_SECONDS="${SPEED_SECONDS:-1}" ;;
        tls12)    anchor_pass tls12 "$PROXIES" sslcluster "$NOTLS13" \
                      "${TLS12_DUR:-8}" "${TLS12_HS_SECONDS:-4}" "${TLS12_REPEAT:-3}" SKIP_SPEED=1 ;;
        memory)   memory_pass ;;
        drain)    drain_pass ;;
        *) die "unknown pass '$pass' (main tls12 memory drain)" ;;
    esac
done

python3 "$HERE/report.py" "$RESULTS" > "$RESULTS/report.md" || log "WARNING: report.py failed"
log "total $(( $(date +%s) - T0 )) s; report: $RESULTS/report.md"
cat "$RESULTS/report.md"
