"""Serving the world model, free of ROS: the lookahead core (plan → prompts → model → video),
the worker that feeds the model, the gate its users share it through, and a model process of
its own. The ROS nodes in ``vap_ros.ros`` are thin wrappers around these."""

from vap_ros.serve.gate import GatedPredictor, ModelGate, Preempted
from vap_ros.serve.lookahead import (
    JointSample,
    Lookahead,
    Predictor,
    RolloutInputs,
    RolloutRequest,
    RolloutResult,
    assemble_inputs,
    hold_still,
    prompt_stamps,
)
from vap_ros.serve.predictor import (
    DTYPES,
    enable_vae_tiling,
    load_predictor,
    load_world_model,
    shipped_model_dir,
)
from vap_ros.serve.worker import RequestWorker

__all__ = ["DTYPES", "GatedPredictor", "JointSample", "Lookahead", "ModelGate", "Predictor",
           "Preempted", "RequestWorker", "RolloutInputs", "RolloutRequest", "RolloutResult",
           "assemble_inputs", "enable_vae_tiling", "hold_still", "load_predictor",
           "load_world_model", "prompt_stamps", "shipped_model_dir"]
