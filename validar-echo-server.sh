#!/bin/sh
# validar-echo-server.sh: the course's check of exercise 3. Sends one line to the
# server from a throwaway container on the system's Docker network (no port is
# published, nothing is installed on the host) and expects the same line back,
# like `echo msg | nc server 12345` would. Prints exactly one of
#     action: test_echo_server | result: success      (exit 0)
#     action: test_echo_server | result: fail         (exit 1; the reason on stderr)
# Options after the name go to `tp0 validate-echo` (--address host:port,
# --message text, --timeout 10s). TP0_NETWORK and TP0_IMAGE choose the network
# (default: the network of the container named by TP0_SERVER, default `server`,
# else tp0_testing_net) and the image (default tp0:latest).
server=${TP0_SERVER:-server}
image=${TP0_IMAGE:-tp0:latest}
network=${TP0_NETWORK:-}
if [ -z "$network" ]; then
  network=$(docker inspect "$server" \
    --format '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}' 2>/dev/null |
    cut -d ' ' -f 1)
fi
network=${network:-tp0_testing_net}

verdict=$(docker run --rm --network "$network" "$image" validate-echo "$@" 2>&1)
case "$verdict" in
  "action: test_echo_server | result: success"*)
    echo "action: test_echo_server | result: success"
    exit 0
    ;;
esac
echo "action: test_echo_server | result: fail"
reason=$(printf '%s\n' "$verdict" | sed -n 's/.*| reason: //p' | head -n 1)
echo "validar-echo-server.sh: ${reason:-$verdict} (network $network)" >&2
exit 1
