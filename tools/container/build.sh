#!/usr/bin/env bash
# `make container`: the bento (`bentoml build`) and its OCI image (`bentoml containerize`) with
# whichever engine is here: docker (with a running daemon), podman or buildah.
#   tools/container/build.sh                 (prints the image's name last)
# Environment: ENGINE (docker | podman | buildah), IMAGE (default emoscan:<bento version>),
# BENTOML=path of the bentoml command, OFFLINE=1 to skip the registry (auto: when python:3.11-slim
# cannot be pulled, a Debian base image is built by base-image.sh and named in a copy of
# bentofile.yaml; the committed bentofile.yaml is never changed).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tools/container
BENTOML=${BENTOML:-bentoml}
REGISTRY_BASE=python:3.11-slim

if [ -z "${ENGINE:-}" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker
  elif command -v podman >/dev/null; then ENGINE=podman
  elif command -v buildah >/dev/null; then ENGINE=buildah
  else echo "no container engine: install docker, podman or buildah (Debian: apt-get install podman buildah runc)" >&2; exit 1
  fi
fi
# podman's default runtime fails on some VMs (crun: hybrid cgroups; runc: setrlimit): these settings then
runtime_conf=$PWD/$here/containers.conf

bentofile=bentofile.yaml
base=""
if [ "${OFFLINE:-auto}" = 1 ] || { [ "${OFFLINE:-auto}" = auto ] && ! timeout 120 "$ENGINE" pull -q "$REGISTRY_BASE" >/dev/null 2>&1; }; then
  base=${BASE_IMAGE:-localhost/emoscan-base:bookworm}
  echo "no registry image $REGISTRY_BASE: building on $base (Debian packages)"
  BASE_IMAGE=$base "$here/base-image.sh" "$ENGINE"
fi
# the user's package index (PIP_INDEX_URL, or pip's own configuration), for the lock file and the
# image's installs alike; BentoML's default is https://pypi.org/simple
index=${PIP_INDEX_URL:-$("$(dirname "$BENTOML")/python" -m pip config get global.index-url 2>/dev/null || true)}
case "$index" in http://*|https://*) ;; *) index="" ;; esac
if [ -n "$base" ] || [ -n "$index" ]; then
  mkdir -p build
  bentofile=build/bentofile.yaml
  # a copy of the project's bentofile with the local base image (BentoML then takes Python from
  # it) and the index; the committed bentofile.yaml is never changed
  python3 - "$base" "$index" > "$bentofile" <<'PY'
import sys, yaml
base, index = sys.argv[1:]
spec = yaml.safe_load(open("bentofile.yaml"))
if base:
    spec["docker"] = {k: v for k, v in spec["docker"].items() if k not in ("python_version", "distro")}
    spec["docker"]["base_image"] = base
if index:
    spec["python"]["index_url"] = index
yaml.safe_dump(spec, sys.stdout, sort_keys=False)
PY
  echo "building from $bentofile (${base:+base image $base}${base:+${index:+, }}${index:+index $index})"
fi

tag=$("$BENTOML" build -f "$bentofile" --output tag | sed -n 's/^__tag__://p' | tail -1)
[ -n "$tag" ] || { echo "bentoml build gave no tag" >&2; exit 1; }
image=${IMAGE:-emoscan:${tag#*:}}
opts=(--opt network=host)
[ "$ENGINE" = docker ] || opts+=(--opt format=docker)   # keeps the HEALTHCHECK (OCI images drop it)
started=$(date +%s)
# from /: BentoML 1.4 copies the bento's Dockerfile template to a temporary folder and then refuses
# to read it there, outside the working directory ("Accessing file outside of current working directory")
(cd / && "$BENTOML" containerize "$tag" --backend "$ENGINE" "${opts[@]}" --image-tag "$image")
echo "built $image from $tag with $ENGINE in $(( $(date +%s) - started )) s"
if [ "$ENGINE" != docker ] && [ -z "${CONTAINERS_CONF:-}" ] && command -v podman >/dev/null && \
   ! podman run --rm --entrypoint true "$image" >/dev/null 2>&1 && \
   CONTAINERS_CONF=$runtime_conf podman run --rm --entrypoint true "$image" >/dev/null 2>&1; then
  echo "podman's default runtime cannot start containers here; run with: CONTAINERS_CONF=$runtime_conf"
fi
echo "$image"
