"""Job side of pruning: a job reports its per-epoch dev metric to its trial through the storage.

The sweeper passes storage, study, trial number and seed index to each job as environment variables
(`hydra.job.env_set`, so any launcher carries them), only when a pruner is configured, and names
`pruning_callback` in BLURB_LAB_CALLBACKS, where blurb_lab's trainer looks for callbacks. The first
seed's job reports every epoch and asks the study's pruner; when it says prune, the job stops and
marks the trial, and the other seeds' jobs stop at their next epoch end. The sweeper then tells
the trial PRUNED. Reporting one seed keeps steps = epochs, which every Optuna pruner expects.

Hydra scans this module at start-up: only the standard library is imported at the top.
"""

from __future__ import annotations

import math
import os
from typing import Any

ENV_STORAGE = "BLURB_OPTUNA_STORAGE"
ENV_STUDY = "BLURB_OPTUNA_STUDY"
ENV_TRIAL = "BLURB_OPTUNA_TRIAL_NUMBER"
ENV_SEED_INDEX = "BLURB_OPTUNA_SEED_INDEX"
PRUNER_ATTR = "blurb_optuna_pruner"  # study user attr: the pruner's config, for the jobs
PRUNED_ATTR = "pruned_at_step"  # trial user attr set by the reporting job


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def job_env(storage: str, study_name: str, trial_number: int, seed_index: int) -> dict[str, str]:
    """The environment that hands one job its trial and asks blurb_lab for the pruning callback."""
    from blurb_lab.callbacks import CALLBACKS_ENV

    return {ENV_STORAGE: storage, ENV_STUDY: study_name, ENV_TRIAL: str(trial_number),
            ENV_SEED_INDEX: str(seed_index), CALLBACKS_ENV: f"{__name__}:pruning_callback"}  # fmt: skip


def job_overrides(storage: str, study_name: str, trial_number: int, seed_index: int) -> list[str]:
    """Hydra overrides that set job_env for one job (they go to hydra.*, not to the job config)."""
    env = job_env(storage, study_name, trial_number, seed_index)
    return [f"++hydra.job.env_set.{key}={_quote(value)}" for key, value in env.items()]


class TrialReporter:
    """Reports a job's dev metric to its Optuna trial and says when the job should stop."""

    def __init__(self, storage: str, study_name: str, trial_number: int, seed_index: int) -> None:
        import optuna
        from hydra.utils import instantiate

        self.storage = optuna.storages.get_storage(storage)
        study_id = self.storage.get_study_id_from_name(study_name)
        pruner_cfg = self.storage.get_study_user_attrs(study_id).get(PRUNER_ATTR)
        pruner = instantiate(pruner_cfg) if pruner_cfg else None
        self.study = optuna.load_study(study_name=study_name, storage=self.storage, pruner=pruner)
        self.trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, trial_number)
        self.trial = optuna.trial.Trial(self.study, self.trial_id)
        self.seed_index = seed_index

    @classmethod
    def from_env(cls) -> TrialReporter | None:
        """The reporter of a job the sweeper started with a pruner; None for any other run."""
        names = (ENV_STORAGE, ENV_STUDY, ENV_TRIAL, ENV_SEED_INDEX)
        if not all(os.environ.get(name) for name in names):
            return None
        return cls(os.environ[ENV_STORAGE], os.environ[ENV_STUDY], int(os.environ[ENV_TRIAL]),
                   int(os.environ[ENV_SEED_INDEX]))  # fmt: skip

    def report(self, step: int, value: float) -> bool:
        """Record `value` at `step` (epoch) for the first seed; True when this job should stop."""
        if self.seed_index != 0:
            return PRUNED_ATTR in self.storage.get_trial(self.trial_id).user_attrs
        if not math.isfinite(value):
            return False  # a diverged run fails the trial on its own
        self.trial.report(value, step)
        if self.trial.should_prune():
            self.trial.set_user_attr(PRUNED_ATTR, step)
            return True
        return False


def pruning_callback(monitor: str) -> Any | None:
    """A Lightning callback that reports `monitor` after each validation, or None outside a pruned sweep.

    blurb_lab's trainer calls it because job_env names it in BLURB_LAB_CALLBACKS (blurb_lab.callbacks).
    """
    reporter = TrialReporter.from_env()
    if reporter is None:
        return None
    import pytorch_lightning as pl

    class OptunaPruning(pl.Callback):
        """Stops the run when its trial is pruned; `pruned_at` keeps the epoch (0-based, Optuna's
        step), so the job records status `pruned` and skips its test."""

        pruned_at: int | None = None

        def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            if trainer.sanity_checking or monitor not in trainer.callback_metrics:
                return
            if reporter.report(trainer.current_epoch, float(trainer.callback_metrics[monitor])):
                trainer.should_stop = True
                self.pruned_at = trainer.current_epoch

    return OptunaPruning()
