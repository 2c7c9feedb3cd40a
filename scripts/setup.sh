#!/usr/bin/env bash
# Set up a fresh machine for vap_ros: system packages (apt), a virtual environment with every
# Python dependency (torch pinned to the local CPU wheel), the ROS 2 interface packages built
# against the pip ROS 2 wheels, and vap_ros itself (editable). Idempotent: re-running skips what
# is already there.  Usage: scripts/setup.sh   (VENV=... to choose the environment folder)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$repo/.venv}
py=${PYTHON:-python3}

# --- system packages: cmake (interfaces), EGL/OSMesa (headless MuJoCo), ffmpeg-free video via
# imageio-ffmpeg's bundled binary.
need=()
for pkg in cmake libegl1 libgl1-mesa-dri libosmesa6 libgl1; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "[setup] apt: installing ${need[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- Python environment
[ -x "$venv/bin/python" ] || { echo "[setup] creating $venv"; $py -m venv "$venv"; }
pip="$venv/bin/python -m pip"
stamp=$venv/.vap_ros_setup
want=$(cat "$repo/requirements.txt" "$repo/requirements-ros.txt" "$repo/setup.py" "$0" | sha1sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # the environment takes ~3 GB (torch, MuJoCo, diffusers, ROS 2 wheels): say so up front
  # rather than fail half-installed
  free_kb=$(df -Pk "$venv" | awk 'NR==2 {print $4}')
  if [ "$free_kb" -lt 4000000 ]; then
    echo "[setup] only $((free_kb / 1000000)) GB free at $venv; installing needs about 4 GB" >&2
    exit 1
  fi
  echo "[setup] installing Python packages (first run: a few minutes)"
  $pip install -q --upgrade pip
  # torch: the local CPU wheel; any other spec would pull GBs of CUDA packages.
  $pip install -q "torch==2.13.0"
  # test tools; ruff and mypy (the lint of .ci/run) pinned: their checks change by release
  $pip install -q -r "$repo/requirements.txt" -r "$repo/requirements-ros.txt" \
    "pytest>=7" "pytest-benchmark>=4" "pytest-timeout>=2" "pytest-randomly>=3" \
    "mcap-ros2-support>=0.5" "ruff==0.17.6" "mypy==2.4.1"
  $pip install -q --no-deps --no-build-isolation -e "$repo"
  echo "$want" > "$stamp"
fi

# --- ROS 2 interfaces (vap_ros_msgs, and tf2_msgs where the wheels lack it)
if ! "$venv/bin/python" -c 'import vap_ros_msgs.msg, vap_ros_msgs.action, tf2_msgs.msg' 2>/dev/null \
   || [ "$repo/vap_ros_msgs" -nt "$venv/.vap_ros_msgs_built" ]; then
  echo "[setup] building ROS 2 interface packages"
  "$repo/scripts/build_interfaces.sh" "$venv"
  touch "$venv/.vap_ros_msgs_built"
fi
echo "[setup] ready: $venv"
