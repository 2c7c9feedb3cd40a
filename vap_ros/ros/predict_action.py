"""The lookahead node's ``PredictRollout`` action: "what would this plan look like?" without
executing it. An action, not a service: a rollout takes seconds, so the client gets feedback
(waiting for inputs, then each denoising step) and can cancel (the model stops between two
steps, also in its own process)."""

from __future__ import annotations

import time

from rclpy.action import ActionServer, CancelResponse
from rclpy.callback_groups import ReentrantCallbackGroup

from vap_ros.data.messages import stamp_ns
from vap_ros.errors import ConfigError, RolloutCancelled, VapError
from vap_ros.serve import RolloutRequest
from vap_ros_msgs.action import PredictRollout

__all__ = ["PredictRolloutServer"]


class PredictRolloutServer:
    """Serves ``name`` for a ``LookaheadNode`` (its plan parsing, inputs, worker and model)."""

    def __init__(self, node, name: str) -> None:
        self.node = node
        self.server = ActionServer(node, PredictRollout, name, execute_callback=self._execute,
                                   cancel_callback=lambda _goal: CancelResponse.ACCEPT,
                                   callback_group=ReentrantCallbackGroup())

    def _execute(self, goal):
        """The plan's videos. Feedback: waiting for inputs, then each denoising step; cancel
        stops the model between steps."""
        node = self.node
        t = time.monotonic()
        request, result = goal.request, PredictRollout.Result()
        steps = int(request.steps) or node.params.steps or node.core.model.config.steps

        def feedback(stage: str, step: int = 0) -> None:
            goal.publish_feedback(PredictRollout.Feedback(
                stage=stage, step=step, steps=steps, elapsed_s=time.monotonic() - t))

        def on_step(i: int) -> None:
            if goal.is_cancel_requested:
                raise RolloutCancelled("cancelled by the action client")
            feedback("predicting", i + 1)

        try:
            plan = node.plan_from_msg(request.plan)
            names = tuple(request.cameras) or node.camera_names
            unknown = [n for n in names if n not in node.camera_names]
            if unknown:
                raise ConfigError(f"unknown cameras {unknown}; configured: "
                                  f"{list(node.camera_names)}")
            req = RolloutRequest("action", plan, request.plan,
                           stamp_ns(request.plan.header.stamp) or None, t)
            feedback("waiting_for_inputs")
            missing = node.worker.wait_for_inputs(lambda: node.missing(req, names),
                                                  node.params.startup_wait_s)
            if missing:
                node.stats.refused_missing += 1
                raise ConfigError(f"refused after waiting {node.params.startup_wait_s:g} s "
                                  "(startup_wait_s) for its inputs; still missing: "
                                  + "; ".join(missing))
            result.rollouts = node.rollout(req, names, int(request.seed), steps,
                                            callback=on_step)
            result.success = True
            node.stats.action_goals += 1
            goal.succeed()
        except RolloutCancelled as err:
            result.message = str(err)
            goal.canceled()
        except VapError as err:
            result.message = str(err)
            node.errors.error("predict_rollout", f"goal aborted: {err}")
            goal.abort()
        except Exception as err:  # noqa: BLE001 - the goal ends, the node goes on
            result.message = f"{type(err).__name__}: {err}"
            node.errors.error("predict_rollout", f"goal aborted: {result.message}",
                              kind="internal")
            goal.abort()
        return result

