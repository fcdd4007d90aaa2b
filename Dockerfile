# tp0: ONE image for every container of the system. The entrypoint is the program and
# the command is the role:
#
#     docker run --rm tp0:latest --help
#     docker run ... tp0:latest server --config /config/server.ini
#     docker run ... tp0:latest client --id 3
#     docker run --rm --network tp0_testing_net tp0:latest validate-echo
#
# Two targets, same CLI, same entrypoint (`tp0` on PATH), same user, same /data:
#
#   release (the default: the LAST stage)
#       The official Deno image resolves the dependencies from deno.lock and
#       `deno compile`s the program into one executable, copied onto distroless/cc,
#       non-root. Needs the internet (Docker Hub, gcr.io, the npm registry and
#       dl.deno.land, where `deno compile` gets its runtime):
#           docker build -t tp0:latest .
#
#   offline
#       The program as ONE JavaScript file (dist/tp0.js, from `deno bundle` on the
#       host: dependencies are resolved there, the build needs no network) run by the
#       deno binary of DENO_IMAGE. For machines that cannot reach a registry, with a
#       local Deno image such as tp0/deno:offline:
#           deno bundle --platform deno -o dist/tp0.js main.ts
#           docker build --target offline --build-arg DENO_IMAGE=tp0/deno:offline -t tp0:latest .
#
# `deno task docker-build` does either (offline by default, --release for the other).
# The offline stage comes first: the legacy builder (DOCKER_BUILDKIT=0) builds every
# stage up to the target, BuildKit only those the target needs.

ARG DENO_VERSION=2.9.6
ARG DENO_IMAGE=denoland/deno:${DENO_VERSION}
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

# ---------------------------------------------------------------------------------------
# offline: the bundle run by deno.
FROM ${DENO_IMAGE} AS offline

# Deno's cache in a known place (both the official image and tp0/deno:offline use it);
# no update check (it would reach dl.deno.land), no prompts.
ENV DENO_DIR=/deno-dir \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1

# The user every container runs as: uid 65532, like distroless' "nonroot" (written
# straight into /etc/passwd, so no useradd is needed). It owns /data, the only place the
# program writes (a new named volume mounted there takes its owner), and Deno's cache.
RUN set -eu; \
    grep -q '^[^:]*:[^:]*:65532:' /etc/passwd \
      || echo 'tp0:x:65532:65532:tp0:/data:/usr/sbin/nologin' >> /etc/passwd; \
    grep -q '^[^:]*:[^:]*:65532:' /etc/group || echo 'tp0:x:65532:' >> /etc/group; \
    mkdir -p /data "$DENO_DIR"; \
    chown -R 65532:65532 /data "$DENO_DIR"

# The launcher: `tp0 <role> ...` runs the bundle with the permissions the program needs
# (the config loader reads the whole environment) and never fetches anything. The V8 flag
# caps the young generation (8 MiB a semi-space), as `deno task tp0` and the compiled
# release do: it keeps the server under 100 MB however many bets it stores
# (docs/performance.md).
RUN printf '%s\n' \
      '#!/bin/sh' \
      '# tp0: the bundled program run by deno, offline (see the Dockerfile).' \
      'exec deno run --cached-only --no-prompt --allow-net --allow-read --allow-write --allow-env --v8-flags=--max-semi-space-size=8 /opt/tp0/tp0.js "$@"' \
      > /usr/local/bin/tp0; \
    chmod 0755 /usr/local/bin/tp0

COPY dist/tp0.js /opt/tp0/tp0.js
USER 65532:65532
# Fails the build now, not the first container, if the bundle does not run here; and
# fills Deno's code cache, which halves the start time of every container.
RUN tp0 --version

WORKDIR /data
ENTRYPOINT ["tp0"]
CMD ["--help"]

# ---------------------------------------------------------------------------------------
# build: dependencies from the lockfile, then one executable.
FROM denoland/deno:${DENO_VERSION} AS build
ENV DENO_NO_UPDATE_CHECK=1
WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY . .
RUN deno compile --frozen --allow-net --allow-read --allow-write --allow-env \
      --v8-flags=--max-semi-space-size=8 --output /out/tp0 main.ts \
    && /out/tp0 --version \
    && mkdir -p /out/data

# ---------------------------------------------------------------------------------------
# release (default): the executable alone on distroless/cc (glibc, libgcc; no shell).
FROM ${RUNTIME_IMAGE} AS release
COPY --from=build /out/tp0 /usr/local/bin/tp0
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
ENTRYPOINT ["tp0"]
CMD ["--help"]
