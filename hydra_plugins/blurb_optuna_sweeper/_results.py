"""The sweep's results: optimization_results.yaml with the best trial, and the expected best value
that a search budget buys (EVP).

Imported only when a sweep starts (Hydra's plugin scan skips `_` modules).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.trial import TrialState

from hydra_plugins.blurb_optuna_sweeper.config import Direction

log = logging.getLogger("hydra_plugins.blurb_optuna_sweeper._impl")  # the sweep's one logger name
RESULTS_FILE = "optimization_results.yaml"


def write_results(study: optuna.Study, header: dict[str, Any], direction: Direction, out_dir: Path) -> dict[str, Any]:
    """optimization_results.yaml in `out_dir`: `header` (the sweep's settings), the trial counts by
    state, the best trial's params, value and per-seed scores, and the EVP curve."""
    trials = study.get_trials(deepcopy=False)
    counts = {state.name: sum(t.state == state for t in trials) for state in TrialState}
    results: dict[str, Any] = {
        **header,
        "n_trials": {k: v for k, v in counts.items() if v},
        "best_trial": None,
        "best_params": None,
        "best_value": None,
        "best_scores": None,
        "best_score_std": None,
    }
    if counts["COMPLETE"]:
        best = study.best_trial
        results.update(
            best_trial=best.number,
            best_params=dict(best.params),
            best_value=best.value,
            best_scores=best.user_attrs.get("seed_scores"),
            best_score_std=best.user_attrs.get("score_std"),
        )
        log.info("blurb_optuna: best trial %d value %.6g params %s", best.number, best.value, best.params)
    else:
        log.warning("blurb_optuna: no trial completed")
    results["evp"] = trials_evp(study, direction, out_dir)
    OmegaConf.save(OmegaConf.create(results), out_dir / RESULTS_FILE)
    return results


def trials_evp(study: optuna.Study, direction: Direction, out_dir: Path) -> dict[str, Any] | None:
    """Expected best objective among n trials (Dodge et al. 2019: what a search budget buys), both
    estimators, plus evp_trials.png; None before two trials complete. Minimised objectives are
    negated, so the curve always reads "best so far"."""
    from blurb_lab.report.evp import evp_dodge, evp_unbiased
    from blurb_lab.report.evp_plots import plot_trials_evp

    sign = 1.0 if direction == Direction.maximize else -1.0
    values = [sign * t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    values = [v for v in values if math.isfinite(v)]
    if len(values) < 2:
        return None
    dodge, dodge_sd = evp_dodge(values)
    evp = {"n": list(range(1, len(values) + 1)), "unbiased": [sign * v for v in evp_unbiased(values)],
           "dodge": [sign * v for v in dodge], "dodge_sd": dodge_sd}  # fmt: skip
    plot_trials_evp(evp, study.study_name, out_dir / "evp_trials.png")
    return evp
