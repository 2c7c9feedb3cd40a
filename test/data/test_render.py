"""``vap-ros prompts render BAG --out DIR``: prompt + overlay PNGs for every image."""

from __future__ import annotations

import cv2
import numpy as np

from vap_ros.cli import main


def test_render_writes_prompt_and_overlay_per_image(good_bag, tmp_path, capsys):
    bag, rig = good_bag
    rc = main(["prompts", "render", str(bag), "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    for cam in rig.cameras:
        n = len(rig.image_stamps_ns[cam.name])
        files = sorted(p.name for p in (tmp_path / cam.name).iterdir())
        # every image with joint states around it (the last one lies past the last state)
        idx = sorted({int(f[:6]) for f in files})
        assert idx == list(range(len(idx))) and len(idx) >= n - 1
        assert f"{idx[-1]:06d}_prompt.png" in files and f"{idx[-1]:06d}_overlay.png" in files
        prompt = cv2.imread(str(tmp_path / cam.name / "000003_prompt.png"))
        assert prompt.shape == (cam.height, cam.width, 3) and prompt.any()
        overlay = cv2.cvtColor(cv2.imread(str(tmp_path / cam.name / "000003_overlay.png")),
                               cv2.COLOR_BGR2RGB)
        # the image shows the same skeleton: the overlay barely changes it there
        img = rig.images[cam.name][3]
        mask = prompt.max(axis=-1) > 200
        diff = np.abs(overlay.astype(int) - img.astype(int)).max(axis=-1)
        assert np.median(diff[mask]) <= 40
        assert f"{cam.name} (/{cam.name}/image_raw" in out
