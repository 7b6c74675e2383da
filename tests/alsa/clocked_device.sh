#!/usr/bin/env bash
# Runs a command with ALSA's default device routed to the null sink of a private PulseAudio daemon: an
# output with a clock (it consumes audio at the sample rate, as a sound card does), for machines without
# a sound card. PortAudio lists it as "default".
#   bash tests/alsa/clocked_device.sh phasefold stream -i speech.wav -o default -m unfolded-untied -L 3
# Needs pulseaudio and ALSA's pulse plugin (libasound2-plugins); .ci/install installs both. Exit status:
# the command's, or 3 without pulseaudio, 4 if the daemon does not start.
set -euo pipefail
command -v pulseaudio >/dev/null || { echo "clocked_device.sh: pulseaudio is not installed" >&2; exit 3; }
run=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$run"
}
trap cleanup EXIT
mkdir -p "$run/home"
cat > "$run/default.pa" <<EOF
load-module module-null-sink sink_name=clocked_null
load-module module-native-protocol-unix auth-anonymous=1 socket=$run/native
set-default-sink clocked_null
EOF
cat > "$run/home/.asoundrc" <<EOF
pcm.!default { type pulse server "unix:$run/native" }
ctl.!default { type pulse server "unix:$run/native" }
EOF
HOME="$run" XDG_RUNTIME_DIR="$run" pulseaudio -n -F "$run/default.pa" --daemonize=no \
  --exit-idle-time=-1 --use-pid-file=no >"$run/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
  [ -S "$run/native" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if [ ! -S "$run/native" ]; then
  echo "clocked_device.sh: PulseAudio did not start:" >&2
  tail -20 "$run/daemon.log" >&2
  exit 4
fi
HOME="$run/home" "$@"
