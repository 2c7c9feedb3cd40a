"""The visual action prompt renderer: every prompt type, for training clips and live inference.

``PromptRenderer`` is the one owner of prompt rendering: the dataset builder (bags → clips),
the prompt and lookahead nodes, the plan ranking and the horizon experiment all render through
it, so a model trained on one prompt type is served the same type, drawn the same way.

- ``skeleton``: exactly ``SkeletonRenderer``'s pixels (the calls are delegated).
- ``silhouette``, ``depth``: the robot's URDF *collision* meshes rasterised by ``MeshRenderer``
  (MuJoCo, headless, CPU) at ``SUPERSAMPLE`` x the size, encoded (``prompts.encoding``) and
  block-averaged. Collision rather than visual meshes: the Panda's visual meshes have 135k
  triangles and cost ~8 ms per frame on a CPU core, its collision meshes 2.3k triangles and
  ~0.3 ms, and at prompt sizes they give nearly the same picture (silhouette IoU 0.92, area
  +8 %, median depth difference 2.5 mm over random poses at 32-256 px).
- ``skeleton+depth``: the skeleton drawn over the depth frame (same lines and discs).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vap_ros.camera import Camera
from vap_ros.errors import ConfigError
from vap_ros.prompts.encoding import PROMPT_TYPES, SUPERSAMPLE, block_mean, depth_grey
from vap_ros.prompts.skeleton import SkeletonRenderer, SkeletonStyle, render_size
from vap_ros.robot import RobotModel, SkeletonSpec

__all__ = ["PROMPT_GEOMETRY", "PromptRenderer", "check_prompt_type_name"]

PROMPT_GEOMETRY = "collision"  # the URDF geometry mesh prompt types are rendered from


def check_prompt_type_name(prompt_type: str) -> str:
    """``prompt_type`` if it is a known prompt type.

    Raises:
        ConfigError: any other value (the valid ones listed).
    """
    if prompt_type not in PROMPT_TYPES:
        raise ConfigError(key="prompt_type", value=prompt_type,
                          expected="one of " + ", ".join(map(repr, PROMPT_TYPES)))
    return prompt_type


class PromptRenderer:
    """Renders prompt videos of one type for one robot.

    Args:
        robot: the kinematic model (its URDF's collision meshes for mesh prompt types).
        spec: the skeleton (keypoints for every type: training stores their pixels).
        prompt_type: one of ``PROMPT_TYPES``.
        style: skeleton drawing style.

    Raises:
        ConfigError: an unknown prompt type, or a mesh prompt type for a robot whose URDF
            meshes cannot be loaded (e.g. one built from URDF text).
    """

    def __init__(self, robot: RobotModel, spec: SkeletonSpec, prompt_type: str = "skeleton",
                 style: SkeletonStyle | None = None):
        self.prompt_type = check_prompt_type_name(prompt_type)
        self.skeleton = SkeletonRenderer(robot, spec, style)
        self.mesh = None
        if prompt_type != "skeleton":
            from vap_ros.prompts.mesh import MeshRenderer

            try:
                self.mesh = MeshRenderer(robot, geometry=PROMPT_GEOMETRY)
            except ConfigError as err:
                raise ConfigError(f"prompt_type {prompt_type!r} renders the robot's "
                                  f"{PROMPT_GEOMETRY} meshes: {err}") from err

    @classmethod
    def from_preset(cls, preset: str = "panda", prompt_type: str = "skeleton",
                    style: SkeletonStyle | None = None) -> PromptRenderer:
        check_prompt_type_name(prompt_type)
        return cls(RobotModel.from_preset(preset), SkeletonSpec.from_preset(preset), prompt_type,
                   style)

    @property
    def robot(self) -> RobotModel:
        return self.skeleton.robot

    @property
    def spec(self) -> SkeletonSpec:
        return self.skeleton.spec

    @property
    def draws_skeleton(self) -> bool:
        return self.prompt_type in ("skeleton", "skeleton+depth")

    def keypoints(self, arm_q: np.ndarray, gripper_width_m=None) -> np.ndarray:
        """(T, K, 3) skeleton keypoints in the base frame for arm positions (T, n)."""
        return self.skeleton.keypoints(arm_q, gripper_width_m)

    # ------------------------------------------------------------------ api
    def render(self, arm_q: np.ndarray, cameras: Sequence[Camera], gripper_width_m=None,
               size: tuple[int, int] | None = None) -> np.ndarray:
        """Prompt videos of one joint trajectory seen by every camera.

        Args:
            arm_q: (T, n) arm positions in ``robot.arm_joint_names`` order (radians).
            cameras: V calibrated cameras.
            gripper_width_m: (T,) or scalar gripper opening in metres; None = the preset's.
            size: output (height, width); None = the cameras' common size. Intrinsics are
                scaled to it.

        Returns:
            (V, T, H, W, 3) uint8 RGB prompts on black.
        """
        if self.mesh is None:
            return self.skeleton.render(arm_q, cameras, gripper_width_m, size)
        size = render_size(cameras, size)
        out = self._mesh_layer(self.mesh.geometry_poses(arm_q, gripper_width_m), cameras, size)
        if self.draws_skeleton:
            uv, depth = self.skeleton.project(self.keypoints(arm_q, gripper_width_m), cameras,
                                              size)
            self.skeleton.draw_projected(uv, depth, size, out=out)
        return out

    def render_views(self, arm_q: np.ndarray, cameras: Sequence[Camera], gripper_width_m=None,
                     size: tuple[int, int] | None = None, *, out: np.ndarray | None = None,
                     skip: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prompt videos with every camera at its own joint positions (training clips: each
        view at its own image stamps), drawing only the frames not in ``skip``.

        Args:
            arm_q: (V, T, n) arm positions, one trajectory per camera (radians).
            gripper_width_m: (V, T) gripper openings in metres, or None (the preset's).
            size: output (height, width); None = the cameras' common size.
            out: a C-contiguous (V, T, H, W, 3) uint8 canvas to draw on (default: black).
            skip: (V, T) bool, frames left as they are in ``out``.

        Returns:
            prompts (V, T, H, W, 3) uint8 (``out`` when given), and the drawn frames' skeleton
            keypoints: uv (V, T, K, 2) pixels (NaN behind the camera) and depth (V, T, K)
            metres; skipped frames' entries are 0.
        """
        q = np.asarray(arm_q, np.float64)
        V = len(cameras)
        if q.ndim != 3 or q.shape[0] != V:
            raise ConfigError(f"arm_q must be ({V}, T, n) for {V} camera(s), got {q.shape}")
        T = q.shape[1]
        H, W = size = render_size(cameras, size)
        cams = [c if (c.height, c.width) == size else c.scaled(W, H) for c in cameras]
        if out is None:
            out = np.zeros((V, T, H, W, 3), np.uint8)
        elif out.shape != (V, T, H, W, 3) or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ConfigError(f"out must be a C-contiguous ({V}, {T}, {H}, {W}, 3) uint8 array")
        skip = np.zeros((V, T), bool) if skip is None else np.asarray(skip, bool)
        K = len(self.spec.names)
        uv, depth = np.zeros((V, T, K, 2)), np.zeros((V, T, K))
        todo = ~skip.reshape(-1)
        if not todo.any():
            return out, uv, depth
        rows = np.flatnonzero(todo)  # flat (view, frame) rows to draw
        q_rows = q.reshape(V * T, -1)[rows]
        w_rows = None if gripper_width_m is None else np.broadcast_to(
            np.asarray(gripper_width_m, np.float64), (V, T)).reshape(-1)[rows]
        kps = self.keypoints(q_rows, w_rows)  # one FK pass for every frame to draw
        frames = out.reshape(V * T, H, W, 3)
        for v, cam in enumerate(cams):
            mine = (rows // T) == v
            if not mine.any():
                continue
            proj = cam.project(kps[mine])
            uv.reshape(-1, K, 2)[rows[mine]] = proj.uv
            depth.reshape(-1, K)[rows[mine]] = proj.depth
            if self.mesh is not None:
                poses = self.mesh.geometry_poses(q_rows[mine],
                                                 None if w_rows is None else w_rows[mine])
                frames[rows[mine]] = self._mesh_layer(poses, [cam], size)[0]
        if self.draws_skeleton:
            self.skeleton.draw_projected(uv, depth, size, out=out, skip=skip)
        return out, uv, depth

    # ------------------------------------------------------------------ mesh layer
    def _mesh_layer(self, T_base_geom: np.ndarray, cameras: Sequence[Camera],
                    size: tuple[int, int]) -> np.ndarray:
        """(V, T, H, W, 3) uint8 silhouette or depth frames of geometry poses (T, G, 4, 4)."""
        assert self.mesh is not None
        H, W = size
        s = SUPERSAMPLE
        fine = self.mesh.render_poses(T_base_geom, [c.scaled(W * s, H * s) for c in cameras],
                                      (H * s, W * s))
        grey = block_mean(fine.silhouette * np.float32(255.0) if self.prompt_type == "silhouette"
                          else depth_grey(fine.depth), s)
        return np.repeat(grey[..., None], 3, axis=-1)
