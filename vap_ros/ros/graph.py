"""Node graphs: the same nodes with the same parameter files as ``launch/*.launch.py``, started in
one process with a multi-threaded executor (``vap-ros run <graph>``), for machines without the
``launch`` / ``launch_ros`` packages (like these). test/ros/test_launch_files.py checks that each
launch file and its graph name the same executables and parameter files.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from vap_ros.errors import ConfigError

__all__ = ["GRAPHS", "Graph", "NodeSpec", "config_dir", "node_cli_args", "run_graph"]


@dataclass(frozen=True)
class NodeSpec:
    """One node of a graph.

    Attributes:
        executable: its console script (setup.py), as ``launch_ros`` ``Node(executable=)``.
        target: ``module:Class`` of the node.
        name: node name (the key of its parameter file).
        params_file: file in config/ with ``<name>: ros__parameters:``.
    """

    executable: str
    target: str
    name: str
    params_file: str


@dataclass(frozen=True)
class Graph:
    help: str
    launch_file: str
    nodes: tuple[NodeSpec, ...]
    use_sim_time: bool = False
    # launch-only processes the graph replaces with its own node: {launch cmd[0:3]: executable}
    substitutes: dict = field(default_factory=dict)


LOOKAHEAD = NodeSpec("lookahead_node", "vap_ros.ros.lookahead_node:LookaheadNode",
                     "lookahead_node", "lookahead_node.yaml")
PROMPT = NodeSpec("prompt_node", "vap_ros.ros.prompt_node:PromptNode", "prompt_node",
                  "prompt_node.yaml")
SIM_RIG = NodeSpec("sim_rig", "vap_ros.ros.sim_rig_node:SimRigNode", "sim_rig", "sim_rig.yaml")
FR3_LOOKAHEAD = NodeSpec("lookahead_node", "vap_ros.ros.lookahead_node:LookaheadNode",
                         "lookahead_node", "fr3_lookahead_node.yaml")
FR3_PROMPT = NodeSpec("prompt_node", "vap_ros.ros.prompt_node:PromptNode", "prompt_node",
                      "fr3_prompt_node.yaml")
BAG_PLAYER = NodeSpec("bag_player_node", "vap_ros.ros.bag_player_node:BagPlayerNode",
                      "bag_player", "bag_player.yaml")

GRAPHS: dict[str, Graph] = {
    "robot": Graph("lookahead + prompts on a robot (cameras, /joint_states, /tf_static and "
                   "plans come from the robot's drivers and planner)",
                   "lookahead.launch.py", (LOOKAHEAD, PROMPT)),
    "fr3": Graph("lookahead + prompts on an FR3 run by franka_ros2 with a RealSense "
                 "(/joint_states, /camera/camera/color/..., base fr3_link0)",
                 "fr3_lookahead.launch.py", (FR3_LOOKAHEAD, FR3_PROMPT)),
    "sim": Graph("the simulated rig + lookahead + prompts", "sim_lookahead.launch.py",
                 (SIM_RIG, LOOKAHEAD, PROMPT)),
    "replay": Graph("a recorded bag replayed (with /clock, looping) into lookahead + prompts",
                    "bag_replay.launch.py", (BAG_PLAYER, LOOKAHEAD, PROMPT), use_sim_time=True,
                    substitutes={("ros2", "bag", "play"): "bag_player_node"}),
}


def config_dir() -> Path:
    """config/ of a source checkout, else share/vap_ros/config of an install (colcon:
    an AMENT_PREFIX_PATH entry; pip: sys.prefix)."""
    candidates = [Path(__file__).resolve().parents[2] / "config"]
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    candidates += [Path(p) / "share" / "vap_ros" / "config" for p in prefixes + [sys.prefix]]
    for c in candidates:
        if (c / "lookahead_node.yaml").is_file():
            return c
    raise ConfigError("vap_ros config folder not found; looked in "
                      + ", ".join(str(c) for c in candidates))


def node_cli_args(spec: NodeSpec, *, use_sim_time: bool = False,
                  overrides: Sequence[tuple[str, str]] = (),
                  params_files: Sequence[str | Path] = ()) -> list[str]:
    """``--ros-args`` for one node: its parameter file, extra files, ``-p name:=value``."""
    args = ["--ros-args", "--params-file", str(config_dir() / spec.params_file)]
    for f in params_files:
        args += ["--params-file", str(f)]
    if use_sim_time:
        args += ["-p", "use_sim_time:=true"]
    for name, value in overrides:
        args += ["-p", f"{name}:={value}"]
    return args


def parse_overrides(items: Sequence[str], graph: Graph) -> dict[str, list[tuple[str, str]]]:
    """``node.param:=value`` (or ``=``) items → {node name: [(param, value)]}."""
    names = {n.name for n in graph.nodes}
    out: dict[str, list[tuple[str, str]]] = {n: [] for n in names}
    for item in items:
        key, sep, value = item.partition(":=")
        if not sep:
            key, sep, value = item.partition("=")
        node, dot, param = key.partition(".")
        if not sep or not dot or node not in names or not param:
            raise ConfigError(f"override {item!r} must read <node>.<param>:=<value> with a node "
                              f"of this graph: {sorted(names)}")
        out[node].append((param, value))
    return out


def _load(target: str):
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def run_graph(name: str, *, overrides: Sequence[str] = (),
              params_files: Sequence[str | Path] = (), duration_s: float = 0.0,
              num_threads: int = 6, ready: threading.Event | None = None) -> int:
    """Start every node of graph ``name`` in this process and spin until Ctrl-C (or
    ``duration_s`` > 0 seconds). Extra ``params_files`` apply to every node (keys select
    nodes, as with ``--params-file``). Returns 0."""
    from vap_ros.ros.runtime import NodeRunner

    if name not in GRAPHS:
        raise ConfigError(f"unknown graph {name!r}; available: {sorted(GRAPHS)}")
    graph = GRAPHS[name]
    per_node = parse_overrides(overrides, graph)
    with NodeRunner(num_threads=num_threads) as runner:
        for spec in graph.nodes:
            cli = node_cli_args(spec, use_sim_time=graph.use_sim_time,
                                overrides=per_node[spec.name], params_files=params_files)
            runner.add(_load(spec.target)(spec.name, context=runner.context, cli_args=cli))
        if ready is not None:
            ready.set()
        runner.spin(duration_s=duration_s)
    return 0
