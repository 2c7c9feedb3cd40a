"""Launch files cannot run here (no launch / launch_ros): check statically, with ast, that every
launch file refers only to executables, parameters and files that exist, and that it names the
same nodes and parameter files as its ``vap-ros run`` graph. The parameter files themselves must
hold only declared parameters, with values their node's parameter dataclass accepts."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.ros

from vap_ros.ros.graph import GRAPHS  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LAUNCH = sorted((REPO / "launch").glob("*.launch.py"))
CONFIG = REPO / "config"
EXTERNAL_EXECUTABLES = {("rviz2", "rviz2")}


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
        keys = set()
        for d in ast.walk(params) if params else []:
            if isinstance(d, ast.Dict):
                keys |= {ast.literal_eval(k) for k in d.keys}
        assert keys <= declared(executable), keys - declared(executable)
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
