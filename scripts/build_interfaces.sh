#!/usr/bin/env bash
# Build ROS 2 interface packages (vap_ros_msgs; tf2_msgs where the pip wheels lack it) with cmake
# against the pip-installed ROS 2 wheels, installing into the virtual environment's prefix so
# that `from vap_ros_msgs.msg import VideoRollout` works with no sourcing.
# Usage: scripts/build_interfaces.sh [VENV]   (default: .venv next to this repo)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$repo/.venv}
py=$venv/bin/python
build=$repo/build/interfaces
export AMENT_PREFIX_PATH=$venv
export PATH=$venv/bin:$PATH

# The wheels' cmake exports carry the include paths of the machine that built them.
py_inc=$($py -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$($py -c 'import numpy; print(numpy.get_include())')
grep -rlE '/opt/python/cp3[0-9]+-cp3[0-9]+/' "$venv/share" --include='*.cmake' 2>/dev/null |
  xargs -r sed -i -E \
    -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$np_inc#g" \
    -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$py_inc#g" || true

build_one() {  # name source_dir
  local name=$1 src=$2
  cmake -S "$src" -B "$build/$name" -DCMAKE_INSTALL_PREFIX="$venv" \
    -DPython3_EXECUTABLE="$py" -DPYTHON_EXECUTABLE="$py" -DBUILD_TESTING=OFF \
    -DCMAKE_BUILD_TYPE=Release >"$build/$name.log" 2>&1 ||
    { cat "$build/$name.log"; echo "cmake configure of $name failed" >&2; return 1; }
  cmake --build "$build/$name" -j "$(nproc)" >>"$build/$name.log" 2>&1 &&
    cmake --install "$build/$name" >>"$build/$name.log" 2>&1 ||
    { tail -50 "$build/$name.log"; echo "build of $name failed" >&2; return 1; }
  echo "built $name -> $venv"
}

mkdir -p "$build"
if ! $py -c 'import tf2_msgs.msg' 2>/dev/null; then
  build_one tf2_msgs "$repo/scripts/pip_interfaces/tf2_msgs"
fi
build_one vap_ros_msgs "$repo/vap_ros_msgs"
$py -c 'from vap_ros_msgs.msg import VideoRollout; from vap_ros_msgs.action import PredictRollout, RankPlans; from tf2_msgs.msg import TFMessage; print("interfaces import OK")'
