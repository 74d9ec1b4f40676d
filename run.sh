#!/usr/bin/env bash
# Runs the product on this machine: one node on the embedded defaults - a SQLite journal under ./data, a generated
# self-signed certificate, a demo VIP https://127.0.0.1:8443 that terminates TLS and forwards to a bundled HTTP
# backend - and prints how to try it with curl and with the CLI. Ctrl-C stops it cleanly.
#
#   ./run.sh                      the demo node (data in ./data; state survives restarts)
#   ./run.sh --data-dir DIR       another data folder
#   ./run.sh -- [sslnode options] pass options through (see: ./run.sh -- --help)
set -euo pipefail
cd "$(dirname "$0")"

DATA=data
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) DATA=$2; shift 2 ;;
    --nodes)
      if [ "$2" != 1 ]; then echo "run.sh: a local multi-node cluster is not available yet; run one node" >&2; exit 2; fi
      shift 2 ;;
    --) shift; PASS=("$@"); break ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done

command -v dotnet >/dev/null || { echo "run.sh: the .NET SDK is needed (dotnet on PATH)" >&2; exit 1; }
if ! command -v openssl >/dev/null || ! command -v curl >/dev/null; then
  echo "run.sh: installing openssl and curl (used to try the demo)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq openssl curl >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq openssl curl >/dev/null; fi
fi

echo "run.sh: building (Release)..." >&2
dotnet build src/Node/SslCluster.Node.csproj -c Release -o .run/node -nologo -v q >/dev/null
dotnet build src/Cli/SslCluster.Cli.csproj -c Release -o .run/cli -nologo -v q >/dev/null

# exec: the node is the foreground process, so Ctrl-C and SIGTERM reach it and run its coordinated shutdown.
exec dotnet .run/node/sslnode.dll --demo --data-dir "$DATA" "${PASS[@]}"
