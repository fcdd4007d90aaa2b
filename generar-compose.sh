#!/usr/bin/env bash
# generar-compose.sh <out.yaml> <N> [options]: the course's name (exercise 1) for
# `tp0 gen-compose`, which writes a Compose file with a server and N agencies
# (lottery mode unless told otherwise; every option is passed through, see
# `bash generar-compose.sh --help`). Then, if the image the file names does not
# exist yet, it is built, so that `docker compose -f <out.yaml> up -d` works next.
#
#   bash generar-compose.sh docker-compose-dev.yaml 5
#   bash generar-compose.sh docker-compose-dev.yaml 5 --mode bet
#   bash generar-compose.sh docker-compose-dev.yaml 3 --server-config server/config.ini
#   bash generar-compose.sh docker-compose-dev.yaml 5 --servers 3 --postgres-image tp0/postgres:offline
#
# tp0 runs with the first of: deno on PATH, npx (Node) fetching deno 2.9.6, or the
# tp0 image itself (when it exists and neither is installed).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
deno_version=2.9.6

if [ $# -ge 2 ]; then
  echo "Nombre del archivo de salida: $1"
  echo "Cantidad de clientes: $2"
fi

# The image named by --image (default tp0:latest), to build it if it is missing.
image=tp0:latest
previous=
for arg in "$@"; do
  case "$previous" in --image) image=$arg ;; esac
  case "$arg" in --image=*) image=${arg#--image=} ;; esac
  previous=$arg
done

deno_cmd=()
if command -v deno >/dev/null 2>&1; then
  deno_cmd=(deno)
elif command -v npx >/dev/null 2>&1; then
  deno_cmd=(npx -y "deno@${deno_version}")
fi

if [ ${#deno_cmd[@]} -gt 0 ]; then
  "${deno_cmd[@]}" run --allow-all --quiet "$root/main.ts" gen-compose "$@"
elif command -v docker >/dev/null 2>&1 && docker image inspect "$image" >/dev/null 2>&1; then
  docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:$PWD" -w "$PWD" "$image" gen-compose "$@"
else
  echo "generar-compose.sh: needs deno, or Node (npx), or the $image image; none found" >&2
  exit 2
fi

# --help, or a file written: build the image if it is missing (once; `make docker-image`
# rebuilds it after a change to the code).
case " $* " in *" --help "*|*" -h "*) exit 0 ;; esac
if ! command -v docker >/dev/null 2>&1; then
  echo "generar-compose.sh: docker is not installed: the file is written, nothing built" >&2
  exit 0
fi
if ! docker image inspect "$image" >/dev/null 2>&1; then
  if [ ${#deno_cmd[@]} -eq 0 ]; then
    echo "generar-compose.sh: image $image is missing and there is no deno to build it" >&2
    exit 1
  fi
  echo "generar-compose.sh: building $image (it does not exist yet)"
  "${deno_cmd[@]}" run --allow-all --quiet "$root/tools/docker.ts" build --image "$image"
fi
