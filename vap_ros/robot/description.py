"""Find robot descriptions on disk and resolve ``package://`` URIs.

Search order for a ROS package name: the ament index (``AMENT_PREFIX_PATH``/share, i.e. a
sourced ROS 2 install), then the ``share`` folders of pip-installed cmeel packages (where
``example-robot-data`` puts ``panda_description``), then this repository's ``urdf/`` folder.
"""

from __future__ import annotations

import os
import site
import sys
from functools import lru_cache
from pathlib import Path

from vap_ros.errors import ConfigError

__all__ = ["mesh_files", "package_share_dirs", "resolve_package_uri", "resolve_path"]

_REPO_URDF_DIR = Path(__file__).resolve().parents[2] / "urdf"


@lru_cache(maxsize=1)
def package_share_dirs() -> tuple[Path, ...]:
    """Directories that contain ROS-style packages (``<dir>/<package>/...``)."""
    dirs: list[Path] = []
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            dirs.append(Path(prefix) / "share")
    candidates = list(sys.path)
    try:
        candidates += site.getsitepackages()
    except AttributeError:  # pragma: no cover - virtualenv without site.getsitepackages
        pass
    for entry in candidates:
        share = Path(entry) / "cmeel.prefix" / "share"
        if share.is_dir():
            dirs.append(share)
    if _REPO_URDF_DIR.is_dir():
        dirs.append(_REPO_URDF_DIR)
    seen: dict[str, Path] = {}
    for d in dirs:
        seen.setdefault(str(d.resolve()), d)
    return tuple(seen.values())


def resolve_package_uri(uri: str) -> Path:
    """Turn ``package://pkg/rel/path`` (or a plain path) into an existing absolute path.

    Raises:
        ConfigError: the package or file cannot be found; the message lists where it looked.
    """
    if not uri.startswith("package://"):
        return resolve_path(uri)
    rest = uri[len("package://"):]
    package, _, rel = rest.partition("/")
    for share in package_share_dirs():
        candidate = share / package / rel
        if candidate.exists():
            return candidate
    searched = ", ".join(str(d) for d in package_share_dirs()) or "(nowhere)"
    raise ConfigError(
        f"cannot resolve {uri!r}: package {package!r} with {rel!r} not found in {searched}; "
        "install the package (e.g. pip install example-robot-data) or source its ROS workspace"
    )


def resolve_path(path: str | os.PathLike) -> Path:
    """An existing file path, expanded; a clear error if it does not exist."""
    p = Path(os.path.expanduser(str(path)))
    if not p.exists():
        raise ConfigError(f"file not found: {str(path)!r}")
    return p.resolve()


def mesh_files(urdf_xml: str, relative_to: Path | None = None) -> dict[str, Path | None]:
    """The ``<mesh filename=...>`` entries of a URDF → existing files, or None where one
    cannot be found (``package://`` and ``file://`` URIs, absolute paths, paths relative to
    ``relative_to``). Never raises for a missing mesh: kinematics does not need them.

    Raises:
        ConfigError: the text is not XML.
    """
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(urdf_xml)
    except ET.ParseError as err:
        raise ConfigError(f"robot description is not XML: {err}") from err
    out: dict[str, Path | None] = {}
    for mesh in root.iter("mesh"):
        uri = mesh.get("filename", "")
        if not uri or uri in out:
            continue
        path = uri[len("file://"):] if uri.startswith("file://") else uri
        if not uri.startswith("package://") and relative_to is not None:
            path = str(Path(relative_to) / path)
        try:
            out[uri] = resolve_package_uri(path)
        except ConfigError:
            out[uri] = None
    return out
