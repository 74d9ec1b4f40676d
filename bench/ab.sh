#!/usr/bin/env bash
# Our node against itself at another commit: new-connection cost (full handshakes/s and the node's CPU time per
# connection), the two builds run in alternation so that the machine's drift falls on both. Not a test, and no
# HAProxy: use it to tell whether a change made connections dearer, which one run of bench/run.sh per commit cannot
# (HAProxy itself moves by a third between runs on this machine).
#
#   sudo bench/ab.sh REV_A [REV_B]        # REV_B defaults to the working tree as built now
#   ROUNDS=3 N=8000 sudo bench/ab.sh 0282d04 main
#
# Needs a work folder a bench/run.sh has prepared (WORK, default /tmp/sslcluster-bench): its certs/, the nginx
# backend configuration conf/backend-18080.conf and run/noresume_shim.so (h2load without resumption). Each revision is
# built in a git worktree under $WORK/ab/ with its own node data folder, configured by start-node.sh --prepare.
# Output: one line per run (rows: TLS 1.3 ECDSA port 18484, RSA port 18483 with the default client), then the mean per
# revision; written to bench/results/ab-<date-time>.txt.
set -u
AB_NAME=ab
# shellcheck source=bench/ab-common.sh
. "$(dirname "$0")/ab-common.sh"
ROUNDS=${ROUNDS:-2} N=${N:-8000} CONC=${CONC:-50}

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: bench/ab.sh REV_A [REV_B] (see the head of this script)"
ab_check h2load -- 18080 18483 18484 18490 18491
OUTFILE=$HERE/results/ab-$(date +%Y%m%d-%H%M%S).txt
BACKEND=""
trap ab_cleanup EXIT

# build REV -> prints the folder holding build/ and data/ for it
build() {
    local dir
    dir=$(ab_build "$1") || exit 1
    ab_prepare "$dir" "$dir/data" --p12 18483 --p13 18484
    echo "$dir"
}

A=$(build "$1") || exit 1
B=$(build "${2:-worktree}") || exit 1
NAMES=("$1" "${2:-worktree}")
# the same revision twice (an A/A run, to see the noise): keep the two sides apart in the means
[ "${NAMES[0]}" = "${NAMES[1]}" ] && NAMES=("${NAMES[0]}#A" "${NAMES[1]}#B")

taskset -c 1 nginx -c "$WORK/conf/backend-18080.conf" -p "$WORK" > /dev/null 2>&1 &
BACKEND=$!
trap 'ab_cleanup; [ -n "$BACKEND" ] && kill -TERM "$BACKEND" 2>/dev/null; pkill -f "conf/backend-18080.conf" 2>/dev/null' EXIT

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# rate PID N URL -> "conn/s cpu_ms_per_conn ok failed"
rate() {
    local pid=$1 n=$2 url=$3 c0 raw
    c0=$(cpu_ticks "$pid")
    raw=$(env LD_PRELOAD="$WORK/run/noresume_shim.so" NORESUME=1 timeout 300 taskset -c 1 h2load --h1 -t1 -c "$CONC" \
        -H 'Connection: close' -n "$n" "$url" 2>&1)
    local r ok failed
    r=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<< "$raw")
    ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded, \([0-9]*\) failed.*/\1/p' <<< "$raw")
    failed=$(sed -n 's/^requests: .* \([0-9]*\) succeeded, \([0-9]*\) failed.*/\2/p' <<< "$raw")
    awk -v r="${r:-0}" -v t="$(( $(cpu_ticks "$pid") - c0 ))" -v hz="$(getconf CLK_TCK)" -v n="$n" -v ok="${ok:-0}" -v f="${failed:-?}" \
        'BEGIN {printf "%.0f %.3f %s %s", r, t * 1000 / hz / n, ok, f}'
}

one_run() { # index dir -> lines "name row conn/s cpu_ms ok failed"
    local i=$1 dir=$2 wrapper pid k
    taskset -c 0 "$HERE/start-node.sh" --build "$dir/build" --data "$dir/data" --certs "$WORK/certs" --p12 18483 --p13 18484 \
        --backend 18080 > "$dir/node.log" 2>&1 &
    wrapper=$!
    for k in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/18484) 2>/dev/null && break; sleep 0.2; done
    pid=$(cat "$dir/data/node.pid")
    rate "$pid" 1000 https://127.0.0.1:18484/100b > /dev/null   # warm-up
    echo "${NAMES[$i]} ecdsa-tls13 $(rate "$pid" "$N" https://127.0.0.1:18484/100b)"
    rate "$pid" 500 https://127.0.0.1:18483/100b > /dev/null
    echo "${NAMES[$i]} rsa-default $(rate "$pid" $((N / 2)) https://127.0.0.1:18483/100b)"
    kill -TERM "$wrapper"; wait "$wrapper" 2>/dev/null
}

{
    echo "# bench/ab.sh $(date -u +%FT%TZ): ${NAMES[0]} against ${NAMES[1]}, $ROUNDS round(s), N=$N, c=$CONC"
    echo "# revision row conn/s cpu_ms_per_conn ok failed"
    for r in $(seq 1 "$ROUNDS"); do
        one_run 0 "$A"
        one_run 1 "$B"
    done
} | tee "$OUTFILE.raw"
{
    cat "$OUTFILE.raw"
    echo "# mean per revision and row: conn/s, node CPU ms per connection"
    awk '!/^#/ {k=$1" "$2; n[k]++; r[k]+=$3; c[k]+=$4} END {for (k in n) printf "%s %.0f %.3f\n", k, r[k]/n[k], c[k]/n[k]}' "$OUTFILE.raw" | sort
} > "$OUTFILE"
rm -f "$OUTFILE.raw"
tail -4 "$OUTFILE"
log "written to $OUTFILE"
