#!/bin/sh
# sidekick-probe's entry point: with CAP_NET_RAW when the container was given it (ICMP checks), without otherwise.
# A non-root process gets no capability from the engine by itself: setpriv-net-raw, a copy of util-linux setpriv
# with the file capability cap_net_raw+ep, passes it on to node as an ambient capability. It cannot even start
# where NET_RAW is outside the container's bounding set (cap_drop: [ALL]), so it is used only when it is inside.
set -e
bounding=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)
if [ $((0x$bounding >> 13 & 1)) = 1 ]; then # bit 13: CAP_NET_RAW
  exec /usr/local/libexec/sidekick/setpriv-net-raw --inh-caps +net_raw --ambient-caps +net_raw -- node /app/dist/cmd/sidekick-probe.js "$@"
fi
exec node /app/dist/cmd/sidekick-probe.js "$@"
