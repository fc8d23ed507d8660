"""The sweep itself: an Optuna ask/tell loop where one trial = one Hydra job per seed.

Imported only when a sweep starts (Hydra's plugin scan skips `_` modules), so a plain run pays
nothing for optuna. Its parts, each a `_` module for the same reason: the search space
(`_search_space`), the study (`_study`), one study per stratum (`_strata`), scoring a trial from its
seeds (`_scoring`), who runs a trial (`_ownership`) and the results file (`_results`). Decisions that users see:

- A trial is scored by aggregating the seeds' dev metric (`objective`); the seed is never a search
  dimension: a command-line `seed=1,2,3` replaces `seeds`.
- A seed whose job raised, returned nothing, diverged or gave a non-finite score makes the trial
  FAIL; a finite score counts even when the run is no better than a trivial predictor (the score
  is real). The sweep stops once FAIL trials exceed `max_failure_rate * n_trials`.
- n_trials counts finished trials (COMPLETE, FAIL, PRUNED) in the study, across restarts. A trial
  left RUNNING by a process that died (same host, pid gone) is taken over and run again under its
  own number with the same params: it finishes once, nothing finished is run again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import BaseDistribution
from optuna.trial import Trial, TrialState

from hydra_plugins.blurb_optuna_sweeper import reporting
from hydra_plugins.blurb_optuna_sweeper._ownership import budget_lock, is_stale, owner_id
from hydra_plugins.blurb_optuna_sweeper._results import write_results
from hydra_plugins.blurb_optuna_sweeper._scoring import aggregate, fail_reasons, seed_attrs, seed_outcome
from hydra_plugins.blurb_optuna_sweeper._search_space import format_value, split_overrides, suggest_all
from hydra_plugins.blurb_optuna_sweeper._strata import (
    RECIPE_ATTR,
    ran_recipe,
    recipe_entry,
    split_strata,
    write_recipes,
)
from hydra_plugins.blurb_optuna_sweeper._study import StudyAccess
from hydra_plugins.blurb_optuna_sweeper.config import Direction, Objective

log = logging.getLogger(__name__)


class SweepStopped(HydraException):
    """Too many failed trials: the sweep stops; optimization_results.yaml is still written."""


class BlurbOptunaSweeperImpl(StudyAccess, Sweeper):
    def __init__(
        self,
        sampler: Any,
        pruner: Any,
        direction: Any,
        storage: str | None,
        study_name: str,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        params: Mapping[str, str] | None,
        seeds: Sequence[int],
        objective: Any,
        metric: str,
        seed_key: str,
        study_per: Sequence[str] = (),
    ) -> None:
        self.sampler_cfg = _plain(sampler)
        self.pruner_cfg = _plain(pruner)
        self.direction = Direction(getattr(direction, "value", direction))
        self.objective = Objective(getattr(objective, "value", objective))
        self.storage = storage
        self.study_name = study_name
        self.n_trials = int(n_trials)
        self.n_jobs = max(1, int(n_jobs))
        self.max_failure_rate = float(max_failure_rate)
        params = _plain(params) or {}
        if not isinstance(params, Mapping):
            raise HydraException(f"blurb_optuna: hydra.sweeper.params must map keys to sweeps, got {params!r}")
        self.params = {str(k): str(v) for k, v in params.items()}
        self.seeds = [int(s) for s in seeds]
        self.metric = metric
        self.seed_key = seed_key
        self.study_per = [str(k) for k in study_per or ()]
        self.job_offset = 0  # job number of this stratum's first job (study_per)
        self.config: DictConfig | None = None
        self.launcher: Any = None
        self.backend: Any = None  # the optuna.storages.BaseStorage that open_study opens
        self.sampler_stopped = False

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )
        self.sweep_dir = Path(str(config.hydra.sweep.dir))
        self.results_dir = self.sweep_dir

    # ---- main loop

    def sweep(self, arguments: list[str]) -> dict[str, Any]:
        assert self.config is not None
        fixed, space, seeds = split_overrides(self.params, arguments, self.seeds, self.seed_key)
        fixed, space, strata = split_strata(fixed, space, self.study_per)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, self.sweep_dir / "multirun.yaml")
        if not self.study_per:
            return self.run_study(fixed, space, seeds)
        base, results, entries = self.study_name, {}, []
        for stratum in strata:  # one study per stratum, each with the whole budget, one after another
            self.study_name = f"{base}-{stratum.suffix()}"
            self.results_dir = self.sweep_dir / "studies" / stratum.suffix()
            self.results_dir.mkdir(parents=True, exist_ok=True)
            self.job_offset = stratum.index * self.n_trials * len(seeds)
            self.sampler_stopped = False
            results[stratum.suffix()] = self.run_study(fixed + stratum.lines(), space, seeds)
            entry = recipe_entry(stratum, self._study, self.sweep_dir, self.metric, self.objective.value)
            entries += [entry] if entry else []
            path = write_recipes(entries, self.sweep_dir)
        log.info("blurb_optuna: %d of %d recipes chosen, in %s", len(entries), len(strata), path)
        return results

    def run_study(self, fixed: list[str], space: Mapping[str, BaseDistribution], seeds: list[int]) -> dict[str, Any]:
        """Run one study to its budget and write its results."""
        study = self._study = self.open_study(space, seeds)
        pruning = not isinstance(study.pruner, optuna.pruners.NopPruner)
        me = owner_id()
        log.info(
            "blurb_optuna: study '%s' in %s, %d trials x seeds %s, %s of %s; search space: %s",
            self.study_name, self._redacted_url(), self.n_trials, seeds, self.objective.value, self.metric,
            {k: str(v) for k, v in space.items()},
        )  # fmt: skip

        while True:
            self.check_failures(study)
            if self.sampler_stopped:
                log.info("blurb_optuna: the sampler has nothing left to try (grid done); sweep ends")
                break
            with budget_lock(self.storage_url(), self.study_name):
                batch = self._claim_batch(study, me)
            if not batch:
                break
            self.run_batch(study, batch, fixed, space, seeds, pruning)

        return self.write_results(study, seeds)

    def _claim_batch(self, study: optuna.Study, me: str) -> list[Trial]:
        """The next trials to run within n_trials: stale ones first, then new ones. Runs under a lock
        so that workers sharing a study never overshoot n_trials between counting and asking."""
        trials = study.get_trials(deepcopy=False)
        n_finished = sum(t.state.is_finished() for t in trials)
        running = [t for t in trials if t.state == TrialState.RUNNING]
        stale = [t for t in running if is_stale(t)]
        remaining = self.n_trials - n_finished - (len(running) - len(stale))
        if remaining <= 0:
            for frozen in stale:  # more left over than the budget holds (n_trials was lowered)
                self.tell(study, frozen.number, state=TrialState.FAIL)
            return []
        batch: list[Trial] = []
        for frozen in stale[: min(self.n_jobs, remaining)]:
            trial = Trial(study, self.trial_id(study, frozen.number))
            trial.set_user_attr("owner", me)
            trial.set_user_attr("resumed", True)
            owner = frozen.user_attrs.get("owner")
            log.info("blurb_optuna: resuming trial %d, left unfinished by %s", frozen.number, owner)
            batch.append(trial)
        while len(batch) < min(self.n_jobs, remaining):
            trial = study.ask()
            trial.set_user_attr("owner", me)
            batch.append(trial)
        return batch

    def run_batch(
        self,
        study: optuna.Study,
        batch: list[Trial],
        fixed: list[str],
        space: Mapping[str, BaseDistribution],
        seeds: list[int],
        pruning: bool,
    ) -> None:
        """Launch every seed of every trial of the batch, then tell each trial its outcome."""
        jobs: dict[int, list[list[str]]] = {}
        for trial in batch:
            params = suggest_all(trial, space)
            trial.set_user_attr("seeds", seeds)
            base = fixed + [f"{name}={format_value(value)}" for name, value in params.items()]
            jobs[trial.number] = []
            for index, seed in enumerate(seeds):
                overrides = base + [f"{self.seed_key}={seed}"]
                if pruning:
                    overrides += reporting.job_overrides(self.storage_url(), self.study_name, trial.number, index)
                jobs[trial.number].append(overrides)
        returns: dict[int, list[JobReturn]] = {}
        try:
            # Jobs are numbered trial * len(seeds) + seed index: a resumed trial writes to its own dirs.
            for numbers in _contiguous(sorted(jobs)):
                overrides = [o for n in numbers for o in jobs[n]]
                start = self.job_offset + numbers[0] * len(seeds)
                rets = list(self.launcher.launch(overrides, initial_job_idx=start))
                for i, n in enumerate(numbers):
                    returns[n] = rets[i * len(seeds) : (i + 1) * len(seeds)]
        except SystemExit as exc:
            # A job that exits the process (a single-run config error exits 2; inside a sweep blurb_lab
            # records it as `crashed` instead): it would fail every trial alike, so stop here.
            for trial in batch:
                trial.set_user_attr("fail_reason", f"job exited with status {exc.code}")
                self.tell(study, trial, state=TrialState.FAIL)
            raise
        for trial in batch:
            self.finish_trial(study, trial, returns[trial.number], seeds)

    def tell(self, study: optuna.Study, trial: Trial | int, value: float | None = None, state: Any = None) -> None:
        """study.tell, noting when the sampler asks to stop (the grid sampler, once its grid is done)."""
        try:
            study.tell(trial, value, state=state, skip_if_finished=True)
        except RuntimeError as exc:  # Study.stop() outside optimize(); the trial's state is already stored
            if "Study.stop" not in str(exc):
                raise
            self.sampler_stopped = True

    def finish_trial(self, study: optuna.Study, trial: Trial, rets: list[JobReturn], seeds: list[int]) -> None:
        """Record each seed's outcome on the trial, then tell it PRUNED (a job marked it), FAIL (a seed
        failed) or COMPLETE with the seeds' aggregate."""
        outcomes = [seed_outcome(ret, self.metric) for ret in rets]
        for key, value in seed_attrs(outcomes, seeds, rets).items():
            trial.set_user_attr(key, value)
        attrs = self.backend.get_trial(self.trial_id(study, trial.number)).user_attrs  # fresh: a job may set them
        reasons = fail_reasons(outcomes, seeds)
        if reporting.PRUNED_ATTR in attrs:
            log.info("blurb_optuna: trial %d pruned at step %s", trial.number, attrs[reporting.PRUNED_ATTR])
            self.tell(study, trial, state=TrialState.PRUNED)
        elif reasons:
            trial.set_user_attr("fail_reason", "; ".join(reasons))
            log.warning("blurb_optuna: trial %d FAIL (%s); the sweep goes on", trial.number, "; ".join(reasons))
            self.tell(study, trial, state=TrialState.FAIL)
        else:
            trial.set_user_attr(RECIPE_ATTR, ran_recipe(rets[0]))
            good = [score for score, _ in outcomes]
            value = aggregate(good, self.objective, self.direction)
            name = self.objective.value
            log.info("blurb_optuna: trial %d %s=%.6g over seeds %s: %s", trial.number, name, value, seeds, good)
            self.tell(study, trial, value)

    def check_failures(self, study: optuna.Study) -> None:
        failed = [t for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))]
        if len(failed) > self.max_failure_rate * self.n_trials:
            seeds = study.user_attrs.get("blurb_optuna", {}).get("seeds", self.seeds)
            self.write_results(study, seeds)
            last = failed[-1].user_attrs.get("fail_reason", "see the job logs")
            raise SweepStopped(
                f"blurb_optuna: {len(failed)} of {self.n_trials} trials failed, more than "
                f"max_failure_rate={self.max_failure_rate}; sweep stopped (last failure, trial {failed[-1].number}: "
                f"{last}). Study: {self._redacted_url()} '{self.study_name}'; raise hydra.sweeper.max_failure_rate "
                "to go on."
            )

    def write_results(self, study: optuna.Study, seeds: list[int]) -> dict[str, Any]:
        """optimization_results.yaml in the sweep dir: best params, value and per-seed scores."""
        header = {"name": "blurb_optuna", "study_name": self.study_name, "storage": self._redacted_url(),
                  "direction": self.direction.value, "objective": self.objective.value, "metric": self.metric,
                  "seeds": seeds}  # fmt: skip
        return write_results(study, header, self.direction, self.results_dir)


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _contiguous(numbers: Iterable[int]) -> list[list[int]]:
    """Runs of consecutive trial numbers, so each run's jobs can be numbered by one initial index."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and runs[-1][-1] + 1 == n:
            runs[-1].append(n)
        else:
            runs.append([n])
    return runs
