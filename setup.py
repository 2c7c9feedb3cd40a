from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

package_name = "vap_ros"
here = Path(__file__).parent


def tree(src: str, dest: str) -> list[tuple[str, list[str]]]:
    """data_files entries for every file below ``src`` (e.g. the shipped default model)."""
    out = []
    for d in sorted(p for p in Path(src).rglob("*") if p.is_dir()) + [Path(src)]:
        files = sorted(str(f) for f in d.iterdir() if f.is_file())
        if files:
            out.append((str(Path(dest) / d.relative_to(Path(src).parent)), files))
    return out


requirements = [
    line.split("#")[0].strip()
    for line in (here / "requirements.txt").read_text().splitlines()
    if line.split("#")[0].strip()
]

setup(
    name=package_name,
    version="0.1.0",
    description="Visual action prompts and a video world model for a Franka rig (ROS 2)",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={package_name: ["py.typed", "*/presets/*.yaml", "*/presets/*.json",
                                 "*/assets/*", "*/assets/*/*",
                                 "*/urdf/*.urdf"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml") + glob("config/*.rviz")),
        *(tree("models", "share/" + package_name) if Path("models").is_dir() else []),
    ],
    install_requires=requirements,
    extras_require={"test": ["pytest>=7", "pytest-benchmark>=4", "pytest-timeout>=2",
                             "pytest-randomly>=3", "mcap-ros2-support>=0.5"]},
    zip_safe=False,
    entry_points={
        "console_scripts": [
            "vap-ros = vap_ros.cli:main",
            "sim_rig = vap_ros.ros.sim_rig_node:main",
            "lookahead_node = vap_ros.ros.lookahead_node:main",
            "prompt_node = vap_ros.ros.prompt_node:main",
            "policy_node = vap_ros.ros.policy_node:main",
            "bag_player_node = vap_ros.ros.bag_player_node:main",
        ],
    },
)
