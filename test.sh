#!/usr/bin/env bash
# Runs every test of the project. Installs what the tests need (openssl, curl, PostgreSQL, podman) when it is missing,
# starts a private PostgreSQL for the cluster tests (and stops it), builds once in Release and the container image
# once (removed at the end), runs each test project, and ends with one summary line "N passed, N failed, N skipped".
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

# kubectl (its kustomize) for the manifest tests: installed where a package source offers it, else those tests are
# reported as skipped with the reason.
if ! command -v kubectl >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends kubectl >/dev/null 2>&1 \
    || echo "test.sh: no package source offers kubectl; the Kubernetes manifest tests will be skipped" >&2
fi

dotnet build Cluster.sln -c Release -nologo -v q

log=$(mktemp)
# The tests' temporary files (node data folders, test certificates and keys, session files) go to a folder of this
# run, removed at the end whatever happens.
scratch=$(mktemp -d -t sslcluster-tests.XXXXXX)
# The cluster tests' PostgreSQL: a private server on a loopback port, installed when missing, stopped at the end.
SSLCLUSTER_TEST_POSTGRES="$(./scripts/test-postgres.sh start | tail -n 1)"
export SSLCLUSTER_TEST_POSTGRES
trap 'rm -f "$log"; rm -rf "$scratch"; ./scripts/test-postgres.sh stop; [ -z "${SSLCLUSTER_TEST_IMAGE:-}" ] || podman rmi -f "$SSLCLUSTER_TEST_IMAGE" >/dev/null 2>&1 || true' EXIT
# The container image of the three-container test: scripts/build-image.sh installs podman, runc and mmdebstrap when
# they are missing and builds the image from Debian's packages and a self-contained publish. Where it cannot, that test
# is reported as skipped with the reason, and this script says so.
echo "test.sh: building the container image (scripts/build-image.sh)" >&2
if image=$(./scripts/build-image.sh --tag localhost/sslcluster:test 2>"$scratch/image.log"); then
  export SSLCLUSTER_TEST_IMAGE=localhost/sslcluster:test
  echo "test.sh: $image" >&2
else
  SSLCLUSTER_TEST_IMAGE_SKIPPED="scripts/build-image.sh failed: $(tail -n 3 "$scratch/image.log" | tr '\n' ' ')"
  export SSLCLUSTER_TEST_IMAGE_SKIPPED
  echo "test.sh: the container image test will be skipped: $SSLCLUSTER_TEST_IMAGE_SKIPPED" >&2
fi
status=0
# One project at a time: the integration tests start node processes and must not compete with unit tests for 2 cores.
for project in tests/Protocol.Tests tests/Actors.Tests tests/Node.Tests tests/Cli.Tests tests/Integration.Tests; do
  echo "test.sh: $project" >&2
  TMPDIR="$scratch" dotnet test "$project" -c Release --no-build -nologo --logger "console;verbosity=minimal" 2>&1 | tee -a "$log" || status=1
done

passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -Eo 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$passed" -eq 0 ]; then echo "test.sh: no test ran" >&2; exit 1; fi
exit $status
