"""How the papers' nets are trained: the config and its budgets, one run's step, the loop, seeds
trained together, successive block training, and what keeps a run safe (its folder, checkpoint,
history and lock) and fast (precision, compile, determinism, distributed, the CUDA graph).

See ARCHITECTURE.md for what each module holds and may import.
"""
from reslab.training.config import TrainConfig, config_changes, config_from, field_help, lr_at
from reslab.training.device import device_name, pick_device
from reslab.training.loop import (fit, join_streams, load_trained, prepare_data, progress_bar,
                                  run_folder, side_streams, sweep, train, train_all,
                                  train_periods, train_steps)
from reslab.training.replicas import build_net
from reslab.training.run import Run, TrainingDiverged, make_loader
from reslab.training.seeds import seed_run, train_seeds

__all__ = ["TrainConfig", "config_changes", "config_from", "field_help", "lr_at", "device_name",
           "pick_device", "fit", "join_streams", "load_trained", "make_loader", "prepare_data",
           "progress_bar", "run_folder", "side_streams", "sweep", "train", "train_all",
           "train_periods", "train_steps", "build_net", "Run", "TrainingDiverged", "seed_run",
           "train_seeds"]
