"""``vap-ros train``: fine-tune the world model on a clip cache (HF accelerate).

Multi-GPU / multi-node: ``accelerate launch [--num_processes N ...] -m vap_ros.cli train ...``;
every process runs this command, only the main one writes the run folder.
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "train", help="train the world model on a clip cache",
        description="Train into a run folder (config.yaml, run.json, checkpoints/, logs/ for "
                    "TensorBoard, samples/). --resume continues a run exactly where its newest "
                    "valid checkpoint left off. See docs/train.md.")
    p.add_argument("--config", default=None,
                   help="training preset (tiny, small, small_prior, small_control) or YAML path; "
                        "optional with --resume (the run's saved config is used)")
    p.add_argument("--data", required=True, help="clip cache folder (vap-ros dataset build)")
    p.add_argument("--out", required=True, help="run folder (must be new or empty unless "
                                                "--resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--source", choices=("logged", "commanded"), default=None,
                   help="prompt/action variant of the clips (default: the cache's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, dotted keys, YAML values "
                        "(e.g. --set steps=100 --set optim.lr=1e-4); repeatable")
    p.add_argument("--time-budget", default=None, metavar="DURATION",
                   help="fit the whole command into this wall-clock time (8m, 90s, 1h30m): "
                        "the step count is sized from a throughput probe after warm-up "
                        "(recorded in OUT/budget.json); overrides steps")
    p.set_defaults(func=run)


_EXPONENT = __import__("re").compile(r"[+-]?\d+(\.\d*)?[eE][+-]?\d+")


def parse_overrides(items: list[str]) -> dict:
    import yaml

    from vap_ros.errors import ConfigError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str) and _EXPONENT.fullmatch(parsed.strip()):
            parsed = float(parsed)  # YAML 1.1 reads 1e-4 (no dot) as a string
        if isinstance(parsed, bool) and value.strip().lower() not in ("true", "false"):
            parsed = value.strip()  # YAML 1.1 reads no/yes/on/off as bools; 1.2 does not
        out[key.strip()] = parsed
    return out


def run(args) -> int:
    import time

    started = time.perf_counter()

    from vap_ros.data import ClipDataset
    from vap_ros.errors import ConfigError
    from vap_ros.outputs import check_out_dir
    from vap_ros.train.config import load_train_config
    from vap_ros.train.run import load_saved_config
    from vap_ros.train.trainer import train

    check_out_dir(args.out)
    overrides = parse_overrides(args.overrides)
    if args.config is not None:
        config = load_train_config(args.config, **overrides)
    elif args.resume:
        config = load_saved_config(args.out).replace(**overrides)
    else:
        raise ConfigError("--config is required for a new run")
    from vap_ros.label.data import action_dataset, wants_action_images

    if wants_action_images(config):  # joint video + action images: logged FK as targets
        if args.source not in (None, "logged"):
            raise ConfigError(f"--source {args.source}: a model that generates actions "
                              "trains on the logged end-effector poses (--source logged)")
        dataset = action_dataset(config, args.data)
    else:
        dataset = ClipDataset(args.data, source=args.source, per_view=config.per_view)
    if args.time_budget is not None:
        summary = _train_in_budget(args, config, dataset, started)
    else:
        summary = train(config, dataset, args.out, resume=args.resume, data_path=str(args.data))
    if summary.get("is_main", True):  # one line per run, not per process
        rate = summary.get("clips_per_s")
        print(f"trained {summary['start_step']} -> {summary['step']} steps; final loss "
              f"{summary['loss']:.4f}" + (f"; {rate:.2f} clips/s" if rate else "")
              + f"; run: {summary['run']}")
    return 0


def _train_in_budget(args, config, dataset, started: float) -> dict:
    import json
    import time
    from pathlib import Path

    from vap_ros.errors import ConfigError
    from vap_ros.train.budget import parse_duration, size_steps
    from vap_ros.train.trainer import Trainer

    budget_s = parse_duration(args.time_budget)
    if args.resume:
        raise ConfigError("--time-budget sizes a new run; continue a run with --resume "
                          "--set steps=N")
    trainer = Trainer(config, dataset, args.out, data_path=str(args.data))
    t_built = time.perf_counter() - started
    info = size_steps(trainer, budget_s, started=started)
    info["startup_s"] = t_built
    if trainer.is_main:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "budget.json").write_text(json.dumps(info, indent=2))
        p = info["probe"]
        print(f"time budget {budget_s:.0f} s: probe {p['step_s']:.3f} s/step "
              f"({p['clips_per_s']:.1f} clips/s, after {p['warmup']} warm-up steps) -> "
              f"{info['steps']} steps x {info['global_batch']} clips")
    summary = trainer.fit()
    if trainer.is_main:
        info["elapsed_s"] = time.perf_counter() - started
        (Path(args.out) / "budget.json").write_text(json.dumps(info, indent=2))
        print(f"time budget {budget_s:.0f} s: used {info['elapsed_s']:.0f} s")
    return summary
