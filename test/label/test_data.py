"""Which training configs train on action images, and the gripper state definition."""

from __future__ import annotations

import numpy as np


def test_wants_action_images():
    from vap_ros.label import wants_action_images
    from vap_ros.train.config import load_train_config

    assert wants_action_images(load_train_config("small_joint"))
    assert not wants_action_images(load_train_config("small"))
    off = load_train_config("small_joint", **{"model.overrides.generate_actions": "none",
                                              "model.overrides.conditioning": "skeleton"})
    assert not wants_action_images(off)


def test_gripper_open_means_fully_open():
    from vap_ros.label import gripper_open

    # open, half-open (reach with 4 cm), closed on a 5 cm object, closed
    assert gripper_open(np.array([0.08, 0.04, 0.05, 0.0])).tolist() == [True, False, False,
                                                                         False]
