#!/usr/bin/env bash
# Shared by ab.sh and ab-pair.sh (sourced, not run): checks, building a revision in a git worktree, configuring a node
# data folder for it. The caller sets AB_NAME (its log prefix) before sourcing.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
WORK=${WORK:-/tmp/sslcluster-bench}
AB=$WORK/ab
log() { printf '[%s %(%H:%M:%S)T] %s\n' "${AB_NAME:-ab}" -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ab_check TOOL... -- PORT...: the prepared WORK folder, the tools, two cores, the ports free
ab_check() {
    local f c p tools=() ports=() seen=0
    for c in "$@"; do if [ "$c" = -- ]; then seen=1; elif [ $seen = 0 ]; then tools+=("$c"); else ports+=("$c"); fi; done
    for f in certs/rsa2048.pem certs/ecp256.pem conf/backend-18080.conf run/noresume_shim.so; do
        [ -s "$WORK/$f" ] || die "$WORK/$f is missing: run bench/run.sh once (PASSES=main is enough), or set WORK"
    done
    for c in "${tools[@]}" nginx taskset git dotnet; do command -v "$c" >/dev/null || die "$c is needed"; done
    [ "$(nproc)" -ge 2 ] || die "needs 2 cores (node on core 0, the load and the backend on core 1)"
    for p in "${ports[@]}"; do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && die "port $p is in use"
    done
    mkdir -p "$AB" "$HERE/results"
}

# The worktrees of the revisions built here are removed at the end, whatever happens (their builds stay in $AB).
ab_cleanup() { local w; for w in "$AB"/src-*; do [ -d "$w" ] && git -C "$ROOT" worktree remove --force "$w" 2>/dev/null; done; return 0; }

# ab_build REV -> prints the folder holding build/ for it (REV "worktree": the checkout as it is now)
ab_build() {
    local rev=$1 dir src sha
    if [ "$rev" = worktree ]; then sha=worktree; src=$ROOT
    else
        sha=$(git -C "$ROOT" rev-parse --short "$rev^{commit}") || die "no such revision: $rev"
        src=$AB/src-$sha
        [ -d "$src" ] || git -C "$ROOT" worktree add --detach "$src" "$sha" >/dev/null 2>&1 || die "git worktree add $src failed"
    fi
    dir=$AB/$sha
    mkdir -p "$dir"
    log "building $rev ($sha) into $dir/build"
    { dotnet build "$src/src/Node/SslCluster.Node.csproj" -c Release -o "$dir/build/node" -nologo -v q &&
      dotnet build "$src/src/Cli/SslCluster.Cli.csproj" -c Release -o "$dir/build/cli" -nologo -v q; } > "$dir/build.log" 2>&1 \
        || die "build of $rev failed (see $dir/build.log)"
    echo "$dir"
}

# ab_prepare DIR DATA [start-node.sh options...]: configures DIR's build's data folder DATA (a fresh one each time)
ab_prepare() {
    local dir=$1 data=$2; shift 2
    rm -rf "$data"
    taskset -c 0 "$HERE/start-node.sh" --build "$dir/build" --data "$data" --certs "$WORK/certs" --backend 18080 --prepare "$@" \
        > "$data.prepare.log" 2>&1 || die "could not configure $data (see $data.prepare.log)"
}
