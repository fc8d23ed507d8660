"""The Optuna study of a sweep: storage, creation or resumption, sampler, and the checks that a resumed
study was made by the same kind of sweep.

Imported only when a sweep starts (Hydra's plugin scan skips `_` modules).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
from hydra.errors import HydraException
from hydra.utils import instantiate
from optuna.distributions import BaseDistribution

from hydra_plugins.blurb_optuna_sweeper import reporting
from hydra_plugins.blurb_optuna_sweeper._search_space import grid_from_space
from hydra_plugins.blurb_optuna_sweeper.config import Direction, Objective

DB_FILE = "optuna.db"
# Settings a resumed study must share with the run that created it, or its trial values would mix.
STUDY_KEYS = ("seeds", "objective", "metric")


class StudyAccess:
    """The study side of the sweeper; the sweeper sets these attributes."""

    storage: str | None
    study_name: str
    sweep_dir: Path
    sampler_cfg: Any
    pruner_cfg: Any
    direction: Direction
    objective: Objective
    metric: str
    backend: Any

    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.sweep_dir / DB_FILE).resolve()}"

    def open_study(self, space: Mapping[str, BaseDistribution], seeds: list[int]) -> optuna.Study:
        """Create or load the study and set it up for this sweep: its sampler, the pruner the jobs
        rebuild, and the checks that a resumed study was made by the same kind of sweep."""
        pruner = instantiate(self.pruner_cfg) if self.pruner_cfg else optuna.pruners.NopPruner()
        study = self._create_study(pruner)
        study.sampler = self.build_sampler(space, n_before=len(study.get_trials(deepcopy=False)))
        self.check_direction(study)
        if self.pruner_cfg and not isinstance(pruner, optuna.pruners.NopPruner):
            study.set_user_attr(reporting.PRUNER_ATTR, self.pruner_cfg)  # the jobs build the same pruner
        self.check_settings(study, seeds)
        return study

    def build_sampler(self, space: Mapping[str, BaseDistribution], n_before: int) -> optuna.samplers.BaseSampler:
        """The configured sampler; a grid sampler gets its grid from the params."""
        sampler_cfg = dict(self.sampler_cfg or {"_target_": "optuna.samplers.TPESampler"})
        if sampler_cfg.get("_target_", "").endswith("GridSampler") and sampler_cfg.get("search_space") is None:
            sampler_cfg["search_space"] = grid_from_space(space)
        if n_before and sampler_cfg.get("seed") is not None:
            # A resumed sampler with the original seed would replay the first run's random draws
            # and try the same params again; shift the seed by the trials already there.
            sampler_cfg["seed"] = int(sampler_cfg["seed"]) + n_before
        return instantiate(sampler_cfg)

    def check_direction(self, study: optuna.Study) -> None:
        """A resumed study optimises in the direction this sweep asks for."""
        if study.direction.name.lower() != self.direction.value:
            raise HydraException(
                f"blurb_optuna: study '{self.study_name}' in {self._redacted_url()} was created to "
                f"{study.direction.name.lower()}; this sweep asks to {self.direction.value}"
            )

    def check_settings(self, study: optuna.Study, seeds: list[int]) -> None:
        """Store this sweep's STUDY_KEYS in a new study; a resumed study must have the same ones, or
        its trial values would mix scores of different seeds, objectives or metrics."""
        settings = {"seeds": seeds, "objective": self.objective.value, "metric": self.metric}
        stored = study.user_attrs.get("blurb_optuna")
        if stored is None:
            study.set_user_attr("blurb_optuna", settings)
            return
        for key in STUDY_KEYS:
            if stored.get(key) != settings[key]:
                raise HydraException(
                    f"blurb_optuna: study '{self.study_name}' in {self._redacted_url()} was created with "
                    f"{key}={stored.get(key)}; this sweep has {key}={settings[key]}. Resume with the same "
                    "settings, or start a new study (another hydra.sweep.dir or hydra.sweeper.study_name)."
                )

    def _create_study(self, pruner: Any, attempts: int = 5) -> optuna.Study:
        """Open the storage and create or load the study. Workers that start together on an empty
        database race to create Optuna's tables; the loser's error is transient, so try again."""
        for attempt in range(attempts):
            try:
                self.backend = optuna.storages.get_storage(self.storage_url())
                return optuna.create_study(
                    storage=self.backend,
                    study_name=self.study_name,
                    sampler=optuna.samplers.RandomSampler(),  # placeholder until we know if this resumes
                    pruner=pruner,
                    direction=self.direction.value,
                    load_if_exists=True,
                )
            except Exception:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    def trial_id(self, study: optuna.Study, number: int) -> int:
        """The storage's id of a trial number (the id Trial needs; Optuna keeps it private on trials)."""
        assert self.backend is not None, "open_study first"
        study_id = self.backend.get_study_id_from_name(study.study_name)
        return self.backend.get_trial_id_from_study_id_trial_number(study_id, number)

    def _redacted_url(self) -> str:
        try:
            from sqlalchemy.engine import make_url

            return make_url(self.storage_url()).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - only used in messages
            return "<storage>"
