"""Output paths are checked before any work."""

from __future__ import annotations

import pytest

from vap_ros.errors import OutputError
from vap_ros.outputs import check_out_dir, check_out_file, make_out_dir, refuse_overwrite


def test_out_dir(tmp_path):
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder") as info:
        check_out_dir(a_file)
    assert info.value.path == a_file
    with pytest.raises(OutputError, match=r"cannot be created: .* is not a folder"):
        check_out_dir(a_file / "sub" / "deeper")
    new = tmp_path / "a" / "b"
    assert check_out_dir(new) == new and not new.exists()  # checking creates nothing
    assert make_out_dir(new).is_dir() and check_out_dir(new) == new


def test_out_file(tmp_path):
    with pytest.raises(OutputError, match="is a folder, not a file"):
        check_out_file(tmp_path)
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="cannot be created"):
        check_out_file(a_file / "sheet.png")
    assert check_out_file(tmp_path / "new" / "sheet.png").name == "sheet.png"


def test_refuse_overwrite(tmp_path):
    metrics = tmp_path / "metrics.json"
    refuse_overwrite([metrics], force=False)  # nothing there yet
    metrics.write_text("{}")
    with pytest.raises(OutputError, match=r"already holds metrics\.json.*--force"):
        refuse_overwrite([metrics], force=False)
    refuse_overwrite([metrics], force=True)
