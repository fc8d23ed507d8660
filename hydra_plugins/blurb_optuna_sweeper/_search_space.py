"""The search space: Hydra sweep overrides as Optuna distributions, and trial params back as overrides.

Imported only when a sweep starts (Hydra's plugin scan skips `_` modules): it needs optuna.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, Transformer
from hydra.errors import HydraException
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import Trial


def distribution_from_override(override: Override) -> BaseDistribution:
    """interval / tag(log|int, interval) / range / choice, as hydra-optuna-sweeper users write them."""
    value = override.value()
    key = override.get_key_element()
    if override.is_choice_sweep():
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if override.is_range_sweep():
        values = list(override.sweep_iterator())
        if not values:
            raise HydraException(f"blurb_optuna: {override.input_line}: empty range")
        if value.shuffle:
            return CategoricalDistribution(values)
        if all(isinstance(v, int) for v in values):
            return IntDistribution(values[0], values[-1], step=int(value.step))
        # range's stop is exclusive (as in Hydra's basic sweeper): the last value is the high end.
        return FloatDistribution(float(values[0]), float(values[-1]), step=float(value.step))
    if override.is_interval_sweep():
        log_scale = "log" in value.tags
        if "int" in value.tags:
            return IntDistribution(int(value.start), int(value.end), log=log_scale)
        return FloatDistribution(float(value.start), float(value.end), log=log_scale)
    raise HydraException(f"blurb_optuna: {key}: not a search dimension: {override.input_line}")


def grid_from_space(space: Mapping[str, BaseDistribution]) -> dict[str, list[Any]]:
    """GridSampler's search_space from choice/range params (an interval has no grid)."""
    grid: dict[str, list[Any]] = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            grid[name] = list(dist.choices)
        elif isinstance(dist, IntDistribution) and not dist.log:
            grid[name] = list(range(dist.low, dist.high + 1, dist.step))
        elif isinstance(dist, FloatDistribution) and dist.step is not None:
            n = round((dist.high - dist.low) / dist.step) + 1
            grid[name] = [dist.low + i * dist.step for i in range(n)]
        else:
            raise HydraException(
                f"blurb_optuna: the grid sampler needs choice(...) or range(...) params; {name} is {dist}"
            )
    return grid


def format_value(value: Any) -> str:
    """A parameter value as override text that Hydra parses back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    try:
        if OverridesParser.create().parse_override(f"k={text}").value() == text:
            return text
    except Exception:  # noqa: BLE001 - anything unparsable gets quoted
        pass
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def suggest_all(trial: Trial, space: Mapping[str, BaseDistribution]) -> dict[str, Any]:
    """Suggest every dimension; a trial that already holds a value (a resumed one) keeps it."""
    params: dict[str, Any] = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
        elif isinstance(dist, FloatDistribution):
            params[name] = trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
        else:  # pragma: no cover - only the three kinds above are built
            raise HydraException(f"blurb_optuna: unsupported distribution for {name}: {dist}")
    return params


def split_overrides(
    params: Mapping[str, str], arguments: Sequence[str], seeds: Sequence[int], seed_key: str
) -> tuple[list[str], dict[str, BaseDistribution], list[int]]:
    """Split the sweeper's params and the command line into fixed overrides (passed to every job),
    search dimensions and seeds. The seed is never a search dimension: a command-line `seed=1,2,3`
    replaces `seeds`, and the command line wins over params."""
    parser = OverridesParser.create()
    space: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for key, text in params.items():
        override = parser.parse_override(f"{key}={text}")
        if override.is_sweep_override():
            space[key] = distribution_from_override(override)
        else:
            fixed[key] = override.input_line
    seeds = list(seeds)
    for override in parser.parse_overrides(list(arguments)):
        key = override.get_key_element()
        if key.lstrip("+~") == seed_key:
            values = override.sweep_iterator() if override.is_sweep_override() else [override.value()]
            seeds = [int(v) for v in values]
        elif override.is_sweep_override():
            space[key] = distribution_from_override(override)  # the command line wins over params
            fixed.pop(key, None)
        else:
            fixed[key] = override.input_line
            space.pop(key, None)  # a value pinned on the command line is no longer searched
    if not seeds:
        raise HydraException("blurb_optuna: no seeds; set hydra.sweeper.seeds=[1,2,3]")
    if len(set(seeds)) != len(seeds):
        raise HydraException(f"blurb_optuna: repeated seeds {seeds}")
    return list(fixed.values()), space, seeds
