"""ROS 2 layer: the only subpackage that imports rclpy. Nodes are thin: convert → call the
library → publish. ``convert`` owns every message <-> numpy / library-type conversion."""
