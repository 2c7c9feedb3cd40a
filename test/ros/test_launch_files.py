"""Launch files cannot run here (no launch / launch_ros): check statically, with ast, that every
launch file refers only to executables, parameters and files that exist, and that it names the
same nodes and parameter files as its ``vap-ros run`` graph. The parameter files themselves must
hold only declared parameters, with values their node's parameter dataclass accepts."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.ros

from vap_ros.ros.graph import GRAPHS

REPO = Path(__file__).resolve().parents[2]
LAUNCH = sorted((REPO / "launch").glob("*.launch.py"))
CONFIG = REPO / "config"
EXTERNAL_EXECUTABLES = {("rviz2", "rviz2"), ("tf2_ros", "static_transform_publisher"),
                        ("realsense2_camera", "realsense2_camera_node")}
# Started only on request (camera:=true), so not a package.xml dependency: a lab may run its
# camera driver from its own launch files.
OPTIONAL_PACKAGES = {"realsense2_camera"}
# Parameters the launch files pass that the nodes do not declare yet: the nodes' rewrite for
# issue 14 declares them (then remove them here). Passing an undeclared parameter is harmless
# in rclpy (the override is ignored), so the launch files already work with today's nodes.
# Every launch file takes these; nodes of this package get namespace + use_sim_time from them.
ROBOT_ARGUMENTS = {"use_sim_time", "namespace", "model", "device", "dtype", "base_frame", "rviz"}


def console_scripts() -> dict[str, str]:
    tree = ast.parse((REPO / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if isinstance(k, ast.Constant) and k.value == "console_scripts":
                    entries = [ast.literal_eval(e) for e in v.elts]
                    return {e.split("=")[0].strip(): e.split("=")[1].strip() for e in entries}
    raise AssertionError("setup.py has no console_scripts")


def params_class(executable: str):
    """The parameter dataclass of the node behind a console script (``vap_ros.ros.params``)."""
    from vap_ros.ros.params import NodeParams

    target = console_scripts()[executable]
    module = importlib.import_module(target.split(":")[0])
    found = [v for v in vars(module).values() if isinstance(v, type)
             and issubclass(v, NodeParams) and v is not NodeParams]
    assert len(found) == 1, (executable, found)
    return found[0]


def declared(executable: str) -> set[str]:
    """The parameters the node behind a console script declares."""
    return set(params_class(executable).field_names()) | {"use_sim_time"}


def kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and (
        getattr(n.func, "id", None) == name or getattr(n.func, "attr", None) == name)]


def strings(node) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)]


def resolved(tree, node):
    """``node`` with every bare name it uses replaced by the value assigned to that name in the
    launch file (``parameters=[file, common, {...}]`` with ``common = {...}``)."""
    values = {t.id: a.value for a in ast.walk(tree) if isinstance(a, ast.Assign)
              for t in a.targets if isinstance(t, ast.Name)}
    out = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and n.id in values:
            out.append(values[n.id])
    return [node, *out]


def param_dict(tree, node) -> dict:
    """The parameter dicts of a Node call merged: {name: ast value}."""
    merged = {}
    for root in resolved(tree, node):
        for d in ast.walk(root):
            if isinstance(d, ast.Dict):
                merged.update({ast.literal_eval(k): v
                               for k, v in zip(d.keys, d.values, strict=True)})
    return merged


def is_config(node, name: str) -> bool:
    """``node`` is ``LaunchConfiguration("<name>")``."""
    return (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "LaunchConfiguration"
            and [ast.literal_eval(a) for a in node.args] == [name])


def test_every_graph_has_its_launch_file_and_back():
    assert {p.name for p in LAUNCH} == {g.launch_file for g in GRAPHS.values()}
    for spec in {n for g in GRAPHS.values() for n in g.nodes}:
        assert spec.executable in console_scripts(), spec
        module, cls = spec.target.split(":")
        assert console_scripts()[spec.executable] == f"{module}:main"
        assert cls in (REPO / (module.replace(".", "/") + ".py")).read_text()


@pytest.mark.parametrize("path", LAUNCH, ids=lambda p: p.name)
def test_launch_file_refers_to_what_exists(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description"
               for n in tree.body)
    graph = next(g for g in GRAPHS.values() if g.launch_file == path.name)
    scripts = console_scripts()

    # launch arguments: every LaunchConfiguration is declared
    declared_args = {ast.literal_eval(c.args[0]) for c in calls(tree, "DeclareLaunchArgument")}
    used_args = {ast.literal_eval(c.args[0]) for c in calls(tree, "LaunchConfiguration")}
    assert used_args <= declared_args, used_args - declared_args

    # files: every .yaml / .rviz named exists in config/
    for s in strings(tree):
        if s.endswith((".yaml", ".rviz")):
            assert (CONFIG / s).is_file(), f"{path.name} names config/{s}, which is missing"

    # nodes: executables exist, parameters are declared, same nodes + files as the graph
    seen = set()
    for call in calls(tree, "Node"):
        package = ast.literal_eval(kw(call, "package"))
        executable = ast.literal_eval(kw(call, "executable"))
        if (package, executable) in EXTERNAL_EXECUTABLES:
            continue
        assert package == "vap_ros" and executable in scripts, (package, executable)
        name = ast.literal_eval(kw(call, "name"))
        params = kw(call, "parameters")
        files = [s for s in strings(params) if s.endswith(".yaml")] if params else []
        keys = set(param_dict(tree, params)) if params else set()
        allowed = declared(executable)
        assert keys <= allowed, keys - allowed
        assert len(files) == 1, files
        seen.add((executable, name, files[0]))
    for call in calls(tree, "ExecuteProcess"):
        cmd = kw(call, "cmd")
        head = tuple(ast.literal_eval(e) for e in cmd.elts[:3])
        assert head in graph.substitutes, f"{path.name} runs {head}, no stand-in in the graph"
        spec = next(n for n in graph.nodes if n.executable == graph.substitutes[head])
        seen.add((spec.executable, spec.name, spec.params_file))
    assert seen == {(n.executable, n.name, n.params_file) for n in graph.nodes}


@pytest.mark.parametrize("spec", sorted({n for g in GRAPHS.values() for n in g.nodes},
                                        key=lambda n: n.name), ids=lambda n: n.params_file)
def test_parameter_files_hold_declared_parameters_of_the_right_type(spec):
    doc = yaml.safe_load((CONFIG / spec.params_file).read_text())
    assert list(doc) == [spec.name]
    params = doc[spec.name]["ros__parameters"]
    cls = params_class(spec.executable)
    for key in params:
        assert key in cls.field_names(), f"{spec.params_file}: {key} is not declared"
    cls.from_dict({**cls.defaults(), **params}, source=spec.params_file)  # types and values


def test_rviz_config_shows_the_outputs():
    doc = yaml.safe_load((CONFIG / "vap_ros.rviz").read_text())
    topics = {d["Topic"]["Value"] for d in doc["Visualization Manager"]["Displays"]
              if "Topic" in d}
    assert {"/prompt/skeleton", "/front/image_raw", "/prompt/front/image",
            "/lookahead/front/predicted", "/lookahead/front/prompt"} <= topics
    assert doc["Visualization Manager"]["Global Options"]["Fixed Frame"] == "panda_link0"


def _launch_trees():
    return [(p, ast.parse(p.read_text(), filename=str(p))) for p in LAUNCH]


@pytest.mark.parametrize("path", LAUNCH, ids=lambda p: p.name)
def test_launch_file_works_on_a_robot(path):
    """use_sim_time, namespace, the model path (default: the shipped model), device/dtype and
    base_frame as arguments, applied to every node of this package and to RViz."""
    tree = ast.parse(path.read_text(), filename=str(path))
    args = {ast.literal_eval(c.args[0]): c for c in calls(tree, "DeclareLaunchArgument")}
    assert ROBOT_ARGUMENTS <= set(args), ROBOT_ARGUMENTS - set(args)
    # the model argument defaults to the shipped model in the package's share directory
    default = resolved(tree, kw(args["model"], "default_value"))
    assert [s for r in default for s in strings(r)] == ["models", "vap_small_sim", "vap_ros"]
    assert any(getattr(c.func, "id", None) == "FindPackageShare" for r in default
               for c in ast.walk(r) if isinstance(c, ast.Call))
    assert (REPO / "models" / "vap_small_sim" / "vap_config.json").is_file()
    assert 'tree("models", "share/" + package_name)' in (REPO / "setup.py").read_text()
    ours = [c for c in calls(tree, "Node") if ast.literal_eval(kw(c, "package")) == "vap_ros"]
    assert ours
    for call in ours:
        name = ast.literal_eval(kw(call, "name"))
        assert is_config(kw(call, "namespace"), "namespace"), name
        params = param_dict(tree, kw(call, "parameters"))
        assert is_config(params.get("use_sim_time"), "use_sim_time"), name
        if name in ("lookahead_node", "prompt_node"):
            assert is_config(params.get("base_frame"), "base_frame"), name
        if name == "lookahead_node":
            for key in ("model", "device", "dtype"):
                assert is_config(params.get(key), key), (name, key)
    rviz = [c for c in calls(tree, "Node") if ast.literal_eval(kw(c, "package")) == "rviz2"]
    assert len(rviz) == 1
    argv = kw(rviz[0], "arguments").elts
    flags = [ast.literal_eval(a) if isinstance(a, ast.Constant) else a for a in argv]
    assert "-d" in flags and "-f" in flags
    assert is_config(argv[flags.index("-f") + 1], "base_frame")  # fixed frame = base_frame
    assert is_config(param_dict(tree, kw(rviz[0], "parameters"))["use_sim_time"],
                     "use_sim_time")


def test_tools_the_launch_files_run_are_dependencies():
    deps = set(re.findall(r"<exec_depend>([\w-]+)</exec_depend>",
                          (REPO / "package.xml").read_text()))
    used = set()
    for _, tree in _launch_trees():
        used |= {ast.literal_eval(kw(c, "package")) for c in calls(tree, "Node")}
        used |= {"launch", "launch_ros"}
        for c in calls(tree, "ExecuteProcess"):
            if tuple(ast.literal_eval(e) for e in kw(c, "cmd").elts[:2]) == ("ros2", "bag"):
                used |= {"ros2bag", "rosbag2_storage_mcap"}
        if "xacro" in strings(tree):
            used.add("xacro")
    used -= OPTIONAL_PACKAGES | {"vap_ros"}
    assert used <= deps, used - deps
    assert {"builtin_interfaces", "action_msgs", "moveit_msgs"} <= deps


def test_fr3_rviz_config_follows_the_fr3_parameters():
    params = yaml.safe_load((CONFIG / "fr3_lookahead_node.yaml").read_text())
    p = params["lookahead_node"]["ros__parameters"]
    doc = yaml.safe_load((CONFIG / "fr3_lookahead.rviz").read_text())
    displays = doc["Visualization Manager"]["Displays"]
    topics = {d["Topic"]["Value"] for d in displays if "Topic" in d}
    for cam in p["cameras"]:
        assert {p["image_topic"].format(camera=cam), f"/prompt/{cam}/image",
                f"{p['output_namespace']}/{cam}/predicted",
                f"{p['output_namespace']}/{cam}/prompt"} <= topics
    assert p["image_topic"].format(camera="camera") == "/camera/camera/color/image_raw"
    assert doc["Visualization Manager"]["Global Options"]["Fixed Frame"] == p["base_frame"]
    models = [d for d in displays if d["Class"] == "rviz_default_plugins/RobotModel"]
    assert models and models[0]["Description Topic"]["Value"] == "/robot_description"
    prompt = yaml.safe_load((CONFIG / "fr3_prompt_node.yaml").read_text())
    q = prompt["prompt_node"]["ros__parameters"]
    assert (q["robot"], q["base_frame"], q["cameras"]) == ("fr3", "fr3_link0", p["cameras"])
    assert p["robot"] == "fr3" and p["base_frame"] == "fr3_link0"
