#!/usr/bin/env bash
# Runs every test of the project. Installs what the tests need (openssl, curl, PostgreSQL) when it is missing,
# starts a private PostgreSQL for the cluster tests (and stops it), builds once in Release, runs each test project,
# and ends with one summary line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

dotnet build Cluster.sln -c Release -nologo -v q

log=$(mktemp)
# The tests' temporary files (node data folders, test certificates and keys, session files) go to a folder of this
# run, removed at the end whatever happens.
scratch=$(mktemp -d -t sslcluster-tests.XXXXXX)
# The cluster tests' PostgreSQL: a private server on a loopback port, installed when missing, stopped at the end.
SSLCLUSTER_TEST_POSTGRES="$(./scripts/test-postgres.sh start | tail -n 1)"
export SSLCLUSTER_TEST_POSTGRES
trap 'rm -f "$log"; rm -rf "$scratch"; ./scripts/test-postgres.sh stop' EXIT
status=0
# One project at a time: the integration tests start node processes and must not compete with unit tests for 2 cores.
for project in tests/Protocol.Tests tests/Actors.Tests tests/Node.Tests tests/Cli.Tests tests/Integration.Tests; do
  echo "test.sh: $project" >&2
  TMPDIR="$scratch" dotnet test "$project" -c Release --no-build -nologo --logger "console;verbosity=minimal" 2>&1 | tee -a "$log" || status=1
done

passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
echo "${passed} passed, ${failed} failed"
if [ "$passed" -eq 0 ]; then echo "test.sh: no test ran" >&2; exit 1; fi
exit $status
