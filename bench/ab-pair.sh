#!/usr/bin/env bash
# Our node at two commits under keep-alive or bulk load, both running at once: the two nodes share core 0, and wrk
# (on core 1, with the nginx backend) alternates between them in short slices, so that this VM's drift (a third between
# runs minutes apart) falls on both alike. Each slice's rate and the node's CPU per request are paired with the other
# node's neighbouring slice; the figure is the median of the pair ratios. Not a test, and no HAProxy (bench/run.sh).
#
#   bench/ab-pair.sh REV_A [REV_B]              # REV_B defaults to the working tree as built now
#   URL=1m.bin CONC=8 bench/ab-pair.sh 76f0867  # bulk instead of 100-byte keep-alive requests
#   SLICES=30 SECS=2 (defaults): pairs of wrk runs of SECS seconds each, the order alternating
#
# HTTP_REUSE=0: no ssl-server http-reuse, one back-end connection per client (wrk offers no ALPN, so its flows are those
# of a client that named no protocol). CLEAR=1: the load goes through a clear-text content rule instead (A on 18485, B on
# 18585, http://): the relay without TLS (HTTP_REUSE applies to the TLS ports only; the rule never re-uses).
#
# ENV_A, ENV_B: environment words for node A or B alone, to compare a setting on one build (ENV_A=MALLOC_ARENA_MAX=default
# bench/ab-pair.sh HEAD HEAD: glibc's arenas against the launcher's two; start-node.sh reads it).
#
# H2=1: the clients agree h2 by ALPN and speak HTTP/2 (h2load, CONC connections of STREAMS (10) concurrent streams each),
# both nodes with start-node.sh --h2, passing HTTP/2 to an nginx that speaks it in clear text on 18082 (its configuration
# is made by one `PASSES=drain DRAIN_ALPN=h2 bench/run.sh`); TLS ports only.
#
# Both nodes run as bench/run.sh runs ours (ssl-server http-reuse, TLS 1.3 ECDSA port): A on 18484, B on 18584. An A/A run
# (the same revision twice) shows the noise: 0.98 on 2026-12-06. Needs a WORK prepared by one bench/run.sh. Output:
# one line per pair, then the medians; written to bench/results/ab-pair-<date-time>.txt.
set -u
AB_NAME=ab-pair
# shellcheck source=bench/ab-common.sh
. "$(dirname "$0")/ab-common.sh"
URL=${URL:-100b} CONC=${CONC:-50} SLICES=${SLICES:-30} SECS=${SECS:-2}
HTTP_REUSE=${HTTP_REUSE:-1}
case $HTTP_REUSE in 1) REUSE_ARG=--http-reuse ;; 0) REUSE_ARG="" ;; *) die "HTTP_REUSE must be 0 or 1" ;; esac
CLEAR=${CLEAR:-0}
case $CLEAR in 1) URL_A=http://127.0.0.1:18485 URL_B=http://127.0.0.1:18585 ;; 0) URL_A=https://127.0.0.1:18484 URL_B=https://127.0.0.1:18584 ;;
    *) die "CLEAR must be 0 or 1" ;; esac

H2=${H2:-0} STREAMS=${STREAMS:-10}
case $H2 in 1) BACKEND=18082 H2_ARG=--h2 LOADER=h2load ;; 0) BACKEND=18080 H2_ARG="" LOADER=wrk ;; *) die "H2 must be 0 or 1" ;; esac
[ "$H2$CLEAR" = 11 ] && die "H2=1 measures the TLS ports: leave CLEAR unset"
[ "$H2" = 0 ] || [ -s "$WORK/conf/backend-18082.conf" ] || die "$WORK/conf/backend-18082.conf is missing: run PASSES=drain DRAIN_ALPN=h2 bench/run.sh once"
[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: bench/ab-pair.sh REV_A [REV_B] (see the head of this script)"
ab_check "$LOADER" python3 -- 18080 18082 18483 18484 18485 18490 18491 18583 18584 18585 18590 18591
OUTFILE=$HERE/results/ab-pair-$(date +%Y%m%d-%H%M%S).txt
NAMES=("$1" "${2:-worktree}")
[ "${NAMES[0]}" = "${NAMES[1]}" ] && NAMES=("${NAMES[0]}#A" "${NAMES[1]}#B")
PIDS=()
stop_all() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    pkill -f "conf/backend-$BACKEND.conf" 2>/dev/null
    ab_cleanup
}
trap stop_all EXIT

DA=$(ab_build "$1") || exit 1
DB=$(ab_build "${2:-worktree}") || exit 1
# Each node its own data folder and ports (a revision given twice shares the build, not the data).
ab_prepare "$DA" "$DA/pair-a" --p12 18483 --p13 18484 --admin-port 18490 --remoting-port 18491 --clear 18485 --backend $BACKEND $REUSE_ARG $H2_ARG
ab_prepare "$DB" "$DB/pair-b" --p12 18583 --p13 18584 --admin-port 18590 --remoting-port 18591 --clear 18585 --backend $BACKEND $REUSE_ARG $H2_ARG

taskset -c 1 nginx -c "$WORK/conf/backend-$BACKEND.conf" -p "$WORK" > /dev/null 2>&1 &
PIDS+=($!)
start() { # dir data p12 p13 admin remoting clear [VAR=value ...]
    local extra=(); read -ra extra <<< "${8:-}"   # the environment words of ENV_A/ENV_B, split (never globbed)
    env "${extra[@]}" taskset -c 0 "$HERE/start-node.sh" --build "$1/build" --data "$2" --certs "$WORK/certs" --p12 "$3" --p13 "$4" \
        --backend $BACKEND --admin-port "$5" --remoting-port "$6" --clear "$7" $REUSE_ARG $H2_ARG > "$2.node.log" 2>&1 &
    PIDS+=($!)
}
start "$DA" "$DA/pair-a" 18483 18484 18490 18491 18485 "${ENV_A:-}"
start "$DB" "$DB/pair-b" 18583 18584 18590 18591 18585 "${ENV_B:-}"
for p in 18484 18584 18485 18585; do
    for k in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.2; done
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || die "no node on port $p (see $DA/pair-a.node.log, $DB/pair-b.node.log)"
done
PA=$(cat "$DA/pair-a/node.pid") PB=$(cat "$DB/pair-b/node.pid")

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# slice PID BASE_URL -> "requests cpu_ticks"
slice() {
    local t0 out
    t0=$(ticks "$1")
    if [ "$H2" = 1 ]; then
        out=$(timeout $((SECS + 30)) taskset -c 1 h2load -t1 -c "$CONC" -m "$STREAMS" -D "$SECS" "$2/$URL" 2>&1)
        echo "$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<< "$out") $(( $(ticks "$1") - t0 ))"
    else
        out=$(timeout $((SECS + 30)) taskset -c 1 wrk -t1 -c "$CONC" -d "${SECS}s" "$2/$URL" 2>&1)
        echo "$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' <<< "$out") $(( $(ticks "$1") - t0 ))"
    fi
}
log "warming both nodes up"
for k in 1 2; do slice "$PA" "$URL_A" > /dev/null; slice "$PB" "$URL_B" > /dev/null; done
log "$SLICES pairs of ${SECS} s slices, $URL, $CONC connections"
{
    echo "# bench/ab-pair.sh $(date -u +%FT%TZ): ${NAMES[0]} (A${ENV_A:+, $ENV_A}) against ${NAMES[1]} (B${ENV_B:+, $ENV_B}), URL=$URL CONC=$CONC SECS=$SECS HTTP_REUSE=$HTTP_REUSE CLEAR=$CLEAR H2=$H2 STREAMS=$STREAMS"
    echo "# pair requests_A ticks_A requests_B ticks_B"
    for i in $(seq 1 "$SLICES"); do
        if [ $((i % 2)) = 1 ]; then a=$(slice "$PA" "$URL_A"); b=$(slice "$PB" "$URL_B")
        else b=$(slice "$PB" "$URL_B"); a=$(slice "$PA" "$URL_A"); fi
        echo "$i $a $b"
    done
} | tee "$OUTFILE.raw"
python3 - "$OUTFILE.raw" "${NAMES[0]}" "${NAMES[1]}" "$SECS" "$(getconf CLK_TCK)" > "$OUTFILE" <<'PY'
import statistics as st, sys
path, a, b, secs, hz = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
rows = [list(map(int, l.split())) for l in open(path) if l.strip() and not l.startswith('#') and len(l.split()) == 5]
print(open(path).read().rstrip())
rows = [r for r in rows if r[1] > 0 and r[3] > 0]
if not rows:
    sys.exit("no complete pair")
rate = [r[3] / r[1] for r in rows]
cpu = [(r[4] / r[3]) / (r[2] / r[1]) for r in rows if r[2] > 0]
print(f"# {len(rows)} pairs; median requests/s: {a} {st.median(r[1] for r in rows) / secs:.0f}, {b} {st.median(r[3] for r in rows) / secs:.0f}")
print(f"# {b} / {a}: requests/s {st.median(rate):.3f} (pairs {min(rate):.3f}-{max(rate):.3f}); node CPU per request {st.median(cpu):.3f}")
for name, i in ((a, 1), (b, 3)):
    per = [r[i + 1] / hz * 1e6 / r[i] for r in rows]
    print(f"# {name}: node CPU per request {st.median(per):.2f} us (median)")
PY
rm -f "$OUTFILE.raw"
tail -4 "$OUTFILE"
log "written to $OUTFILE"
