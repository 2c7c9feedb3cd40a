# Environment for running vap_ros here: shared-memory-only DDS (no network traffic), a private
# ROS domain and log folder, headless MuJoCo. Source it: `. scripts/env.sh`.
export FASTDDS_BUILTIN_TRANSPORTS='SHM?max_msg_size=4MB&sockets_size=16MB'
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}
export ROS_LOG_DIR=${ROS_LOG_DIR:-$(mktemp -d /tmp/vap_ros_log.XXXXXX)}
export MUJOCO_GL=${MUJOCO_GL:-egl}
export PYOPENGL_PLATFORM=${PYOPENGL_PLATFORM:-$MUJOCO_GL}
export TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1
export PYTHONUNBUFFERED=1
