#!/usr/bin/env bash
# A Debian base image for `bentoml containerize` where no container registry can be reached:
# Debian bookworm (minbase) with Python 3.11, venv, pip and CA certificates, built by debootstrap
# from a Debian mirror and imported into the container engine.
#   tools/container/base-image.sh [engine]     (engine: podman | buildah | docker; default: the first found)
# Environment: BASE_IMAGE (the tag, default localhost/emoscan-base:bookworm), DEBIAN_MIRROR
# (default http://deb.debian.org/debian), REBUILD=1 to build it again when it exists.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"   # debootstrap and chroot live there
ENGINE=${1:-$(for e in podman buildah docker; do command -v "$e" >/dev/null && { echo "$e"; break; }; done)}
TAG=${BASE_IMAGE:-localhost/emoscan-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ -n "$ENGINE" ] || { echo "no container engine (podman, buildah or docker) found" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debootstrap is needed: apt-get install debootstrap" >&2; exit 1; }

exists() {
  case "$ENGINE" in
    podman) podman image exists "$TAG" ;;
    buildah) buildah inspect --type image "$TAG" >/dev/null 2>&1 ;;
    docker) docker image inspect "$TAG" >/dev/null 2>&1 ;;
  esac
}
if [ "${REBUILD:-0}" != 1 ] && exists; then
  echo "$TAG exists ($ENGINE); REBUILD=1 builds it again"
  exit 0
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
  bookworm "$root" "$MIRROR" >/dev/null
# the host's own certificate authorities (a proxy's, a company's), so that HTTPS inside the build
# trusts what the host trusts
if [ -d /usr/local/share/ca-certificates ]; then
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null
fi
# BentoML's Dockerfile runs the system pip (to install uv): Debian marks its Python as
# externally managed (PEP 668), which refuses that
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
case "$ENGINE" in
  podman) tar -C "$root" -c . | podman import --message "emoscan base image (debootstrap bookworm)" - "$TAG" >/dev/null ;;
  buildah) tar -C "$root" -c . | podman import - "$TAG" >/dev/null 2>&1 || {
             ctr=$(buildah from scratch); mnt=$(buildah mount "$ctr"); cp -a "$root"/. "$mnt"/
             buildah umount "$ctr" >/dev/null; buildah commit --quiet "$ctr" "$TAG" >/dev/null; buildah rm "$ctr" >/dev/null; } ;;
  docker) tar -C "$root" -c . | docker import - "$TAG" >/dev/null ;;
esac
echo "built $TAG with $ENGINE"
