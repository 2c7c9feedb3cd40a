"""Output paths checked before any work: a folder that is a file, a path that cannot be created
or written, results that would be silently replaced.

Commands call these first, so a bad ``--out`` costs one line, not a finished computation.
"""

from __future__ import annotations

import os
from pathlib import Path

from vap_ros.errors import OutputError

__all__ = ["check_out_dir", "check_out_file", "make_out_dir", "refuse_overwrite"]


def _creatable(p: Path, what: str) -> None:
    """The nearest existing ancestor of ``p`` must be a writable folder."""
    parent = p.parent
    while not (parent.exists() or parent.is_symlink()) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{what} {str(p)!r} cannot be created: {str(parent)!r} is not a folder",
                          path=p)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {str(p)!r} cannot be created: {str(parent)!r} is not "
                          "writable", path=p)


def check_out_dir(path: str | Path, what: str = "--out") -> Path:
    """An output folder that exists and is writable, or can be created (nothing is created).

    Raises:
        OutputError: ``path`` is a file, or it cannot be created or written.
    """
    p = Path(path).expanduser()
    if p.exists() or p.is_symlink():
        if not p.is_dir():
            raise OutputError(f"{what} {str(p)!r} is a file, not a folder", path=p)
        if not os.access(p, os.W_OK | os.X_OK):
            raise OutputError(f"{what} {str(p)!r} is not writable", path=p)
        return p
    _creatable(p, what)
    return p


def check_out_file(path: str | Path, what: str = "--out") -> Path:
    """An output file path whose folder exists or can be created (nothing is created).

    Raises:
        OutputError: ``path`` is a folder, or its folder cannot be created or written.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        raise OutputError(f"{what} {str(p)!r} is a folder, not a file", path=p)
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputError(f"{what} {str(p)!r} is not writable", path=p)
    _creatable(p, what)
    return p


def make_out_dir(path: str | Path, what: str = "--out") -> Path:
    """``check_out_dir``, then create the folder (and its parents).

    Raises:
        OutputError: as ``check_out_dir``, or the creation failed.
    """
    p = check_out_dir(path, what)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{what} {str(p)!r} cannot be created: {err.strerror or err}",
                          path=p) from err
    return p


def refuse_overwrite(files: list[Path], *, force: bool, what: str = "--out") -> None:
    """Refuse to replace existing result files unless ``force``.

    Raises:
        OutputError: naming the first existing file and how to proceed.
    """
    existing = [f for f in files if f.exists()]
    if existing and not force:
        f = existing[0]
        raise OutputError(f"{what} {str(f.parent)!r} already holds {f.name} from an earlier run; "
                          "pass --force to overwrite it, or choose another folder", path=f)
