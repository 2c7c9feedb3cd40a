"""``vap-ros run <graph>``: start a node graph (the nodes of a launch file, with the same
parameter files) in one process, for machines without ros2 launch."""

from __future__ import annotations


def register(sub) -> None:
    from vap_ros.ros.graph import GRAPHS  # no rclpy import: graph.py imports it lazily

    p = sub.add_parser(
        "run", help="start a node graph in one process: " + ", ".join(GRAPHS),
        description="Start the nodes of a graph with their config/ parameter files in one "
                    "process (multi-threaded executor); Ctrl-C stops it. Graphs: "
                    + "; ".join(f"{k}: {g.help} (launch/{g.launch_file})"
                                for k, g in GRAPHS.items()))
    p.add_argument("graph", choices=sorted(GRAPHS))
    p.add_argument("-p", "--param", action="append", default=[], metavar="NODE.PARAM:=VALUE",
                   help="override one node parameter, e.g. lookahead_node.steps:=4 "
                        "(repeatable; values are YAML)")
    p.add_argument("--params-file", action="append", default=[],
                   help="extra parameter file (<node>: ros__parameters: …), repeatable")
    p.add_argument("--bag", default=None, help="replay graph: the bag to play "
                   "(same as -p bag_player.bag:=PATH)")
    p.add_argument("--duration", type=float, default=0.0,
                   help="stop after this many seconds (0 = until Ctrl-C)")
    p.set_defaults(func=run)


def run(args) -> int:
    from vap_ros.ros.graph import run_graph

    overrides = list(args.param)
    if args.bag:
        overrides.append(f"bag_player.bag:={args.bag}")
    return run_graph(args.graph, overrides=overrides, params_files=args.params_file,
                     duration_s=args.duration)
