#!/usr/bin/env bash
# Builds the node's container image from what this machine reaches: Debian's packages and NuGet. No registry image is
# pulled (none can be here), and nothing of the build is inside the image:
#   1. sslnode and sslctl, published self-contained for linux-x64 (the .NET runtime comes with them);
#   2. a minimal Debian bookworm root file system (mmdebstrap --variant=minbase) with the libraries they load (OpenSSL 3,
#      libstdc++) and this machine's CA bundle, documentation, locales and apt's lists left out;
#   3. /app (the two programs), /etc/sslcluster/cluster.conf (hocon/cluster.conf), a user sslcluster (10001) owning
#      nothing but /var/lib/sslcluster; imported into podman as an OCI image that runs as that user.
# The image runs with a read-only root file system: give it /tmp and /var/lib/sslcluster as writable volumes (k8s/).
#
#   scripts/build-image.sh [--tag NAME:TAG] [--save FILE.tar]
#
# Prints the image's name and size on its last line. --save also writes it as an OCI archive (for kind load,
# podman load or a registry push). Needs root (or sudo) for the packages it installs (podman, runc, mmdebstrap, uidmap)
# and for mmdebstrap; podman itself runs as the calling user (rootless needs that user's /etc/subuid range).
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=localhost/sslcluster:latest
SAVE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=${2:?--tag needs NAME:TAG}; shift 2 ;;
    --save) SAVE=${2:?--save needs a file}; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build-image: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi
missing=()
for tool in podman:podman runc:runc mmdebstrap:mmdebstrap newuidmap:uidmap; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-image: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/sslcluster-image.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "build-image: publishing sslnode and sslctl (self-contained, linux-x64)..." >&2
for project in src/Node/SslCluster.Node.csproj src/Cli/SslCluster.Cli.csproj; do
  # Its own artifacts folder: a publish beside a running build or test run never touches their obj/ and bin/.
  dotnet publish "$project" -c Release -r linux-x64 --self-contained -o "$work/app" --artifacts-path "$work/artifacts" -nologo -v q \
    -p:DebugType=none -p:GenerateDocumentationFile=false > "$work/publish.log" 2>&1 \
    || { echo "build-image: dotnet publish $project failed:" >&2; tail -n 20 "$work/publish.log" >&2; exit 1; }
done
rm -f "$work"/app/*.pdb "$work"/app/*.xml

echo "build-image: building the root file system (Debian bookworm, minbase)..." >&2
# The packages: libssl3 (the TLS engine), libstdc++6 and libgcc-s1 (the .NET runtime), zlib1g. Not ICU: the node runs
# with invariant globalization (it formats and compares with the invariant culture and ordinal rules throughout), which
# keeps 30 MiB out. Not Debian's ca-certificates package, which would bring perl and openssl's command line: this
# machine's CA bundle is copied in instead (OCSP and CRL fetches over https, back ends verified against system roots).
# Once the file system is merged, usrmerge and the perl it needed go (dpkg is told to ignore that init-system-helpers
# names usrmerge), and so does apt: nothing installs in the image.
$SUDO mmdebstrap --variant=minbase --quiet \
  --include=libssl3,libstdc++6,libgcc-s1,zlib1g \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='mkdir -p "$1/app" "$1/etc/sslcluster" "$1/var/lib/sslcluster"' \
  --customize-hook="copy-in $work/app /" \
  --customize-hook="upload hocon/cluster.conf /etc/sslcluster/cluster.conf" \
  --customize-hook='mkdir -p "$1/etc/ssl/certs"' \
  --customize-hook="upload /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt" \
  --customize-hook='rm -rf "$1/usr/lib/x86_64-linux-gnu/gconv"' \
  --customize-hook='chroot "$1" dpkg --purge --force-depends usrmerge libfile-find-rule-perl libnumber-compare-perl libtext-glob-perl perl libperl5.36 perl-modules-5.36 apt libapt-pkg6.0 >/dev/null' \
  --customize-hook='chroot "$1" groupadd --gid 10001 sslcluster' \
  --customize-hook='chroot "$1" useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/sslcluster --shell /usr/sbin/nologin sslcluster' \
  --customize-hook='chown -R root:root "$1/app" && chmod -R go-w "$1/app" && chown 10001:10001 "$1/var/lib/sslcluster" && chmod 700 "$1/var/lib/sslcluster"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*' \
  bookworm "$work/rootfs.tar" http://deb.debian.org/debian

echo "build-image: importing as $TAG..." >&2
# podman runs as the user who runs this script (rootless when not root), so the image lands where that user's podman
# (and the tests) look for it; only the root file system needs root to build.
[ -z "$SUDO" ] || $SUDO chown "$(id -u):$(id -g)" "$work/rootfs.tar"
podman import \
  --change 'USER 10001:10001' \
  --change 'WORKDIR /var/lib/sslcluster' \
  --change 'ENTRYPOINT ["/app/sslnode"]' \
  --change 'CMD ["--config", "/etc/sslcluster/cluster.conf"]' \
  --change 'EXPOSE 8443' --change 'EXPOSE 4100' --change 'EXPOSE 8558' \
  --change 'ENV PATH=/app:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1' \
  --change 'ENV MALLOC_ARENA_MAX=2' \
  --change 'LABEL org.opencontainers.image.title=sslcluster org.opencontainers.image.source=https://github.com/sslcluster/sslcluster' \
  "$work/rootfs.tar" "$TAG" >/dev/null

if [ -n "$SAVE" ]; then
  podman save --format oci-archive -o "$SAVE" "$TAG"
  echo "build-image: saved to $SAVE" >&2
fi
size=$(podman image inspect --format '{{.Size}}' "$TAG")
echo "image $TAG: $((size / 1024 / 1024)) MiB"
