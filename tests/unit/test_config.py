"""Config composition of every group option, schema errors and value checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from blurb_lab.config.compose import CONFIG_DIR
from blurb_lab.config.validate import validate
from blurb_lab.errors import ConfigError
from blurb_lab.preflight import preflight
from tests.conftest import compose_config

GROUPS = ["model", "task", "strategy", "trainer", "logger", "paths", "hydra", "experiment"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml"))


def compose_cfg(*overrides: str):
    return compose_config(overrides=list(overrides))


def test_every_group_has_options():
    for group in GROUPS:
        assert options(group), group
    assert {"pubmedbert_base", "pubmedbert_large", "pubmed_electra_base", "pubmed_electra_large",
            "minilm", "tiny_bert", "tiny_electra"} <= set(options("model"))  # fmt: skip
    assert {"standard", "freeze_lower", "layerwise_decay", "reinit_top", "auto"} <= set(options("strategy"))


@pytest.mark.parametrize(
    "group,option",
    [(g, o) for g in ["model", "task", "strategy", "trainer", "logger"] for o in options(g)],
)
def test_every_option_composes_and_validates(group: str, option: str):
    cfg = compose_cfg(f"{group}={option}")
    assert OmegaConf.select(cfg, group) is not None
    if group == "model":
        assert cfg.model.name == option
    validate(cfg)  # every shipped preset passes the value checks


def test_defaults_follow_blurb_protocol():
    cfg = compose_cfg()
    assert cfg.model.name == "minilm" and cfg.task.name == "biosses" and cfg.strategy.name == "standard"
    assert cfg.optim.warmup_ratio == 0.1 and cfg.seed == 1 == cfg.seed_init == cfg.seed_data == cfg.seed_dropout
    # MiniLM carries its own recipes (chosen on dev); a model without one takes the task's BLURB values.
    (recipe,) = [r for r in cfg.model.recipes if r.pair_head == "cosine"]  # BIOSSES cross-encoded, cosine head
    assert cfg.model.pair_head == "cosine" and cfg.task.pair_encoding == "cross"
    assert (cfg.optim.lr, cfg.data.batch_size, cfg.trainer.max_epochs) == (recipe.lr, recipe.batch_size, recipe.epochs)
    linear = compose_cfg("model.pair_head=linear")  # BLURB's head takes the catch-all entry, searched for it
    assert linear.optim.lr == cfg.model.recipes[-1].lr != recipe.lr
    base = compose_cfg("model=pubmedbert_base")
    assert base.optim.lr == base.task.lr and base.data.batch_size == base.task.batch_size
    assert base.trainer.max_epochs == base.task.epochs


def test_stability_presets_sweep_four_strategies_over_blurb_seed_counts():
    biosses = compose_config(overrides=["experiment=stability_biosses"], hydra=True)
    other = compose_config(overrides=["experiment=stability", "task=gad"], hydra=True)
    gad = compose_config(overrides=["experiment=stability_gad"], hydra=True)
    assert biosses.hydra.mode.name == "MULTIRUN" and biosses.task.name == "biosses"
    params = biosses.hydra.sweeper.params
    assert params.strategy == "standard,freeze_lower,layerwise_decay,reinit_top" and params.seed == "range(1,11)"
    assert other.task.name == "gad" and other.hydra.sweeper.params.seed == "range(1,6)"
    # the capped second task of `make stability`: the cap is in the config, so results.json records it
    assert gad.task.name == "gad" and gad.hydra.sweeper.params.seed == "range(1,6)"
    assert (gad.data.limit_train_examples, gad.trainer.max_epochs) == (1500, 1)


def test_logger_options_combine():
    cfg = compose_cfg("logger=[csv,wandb]")
    assert cfg.logger.csv and cfg.logger.wandb and cfg.logger.wandb_mode == "offline"
    assert not compose_cfg("logger=wandb").logger.csv


def test_command_line_overrides_reach_the_config():
    cfg = compose_cfg("model=tiny_electra", "optim.lr=1e-5", "seed=7", "trainer.max_epochs=2")
    assert (cfg.model.family, cfg.optim.lr, cfg.seed, cfg.trainer.max_epochs) == ("electra", 1e-5, 7, 2)


@pytest.mark.parametrize(
    "override,key",
    [
        ("optim.lr=-1", "optim.lr"),
        ("data.batch_size=0", "data.batch_size"),
        ("trainer.max_epochs=0", "trainer.max_epochs"),
        ("strategy.layer_decay=1.5", "strategy.layer_decay"),
        ("task.max_len=100000", "task.max_len"),
        ("model.dropout=1.0", "model.dropout"),
        ("strategy.reinit_top_layers=7", "strategy.reinit_top_layers"),  # minilm has 6 blocks
        ("strategy.freeze_lower_layers=9", "strategy.freeze_lower_layers"),
        ("strategy=freeze_lower strategy.reinit_top_layers=4", "strategy.reinit_top_layers"),  # 3 + 4 > 6 blocks
    ],
)
def test_value_checks_name_the_key(override: str, key: str):
    with pytest.raises(ConfigError) as info:
        validate(compose_cfg(*override.split()))
    assert info.value.key == key
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["task=nope"], "task=nope: unknown option for 'task'; allowed: bc2gm, bc5chem, bc5disease, bioasq, biosses"),
        (["model=nope"], "allowed: minilm"),
        (["optim.lr=-1"], "optim.lr: -1.0 is not allowed; must be > 0"),
        (["optim.foo=1"], "allowed keys: lr, weight_decay"),
        (["optim.lr=abc"], "optim.lr"),
        (["seed=1.5"], "seed"),
        (["-m", "seed=1,2", "strategy=standard,nope"], "strategy=nope"),
    ],
)
def test_preflight_errors_are_one_line_with_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as info:
        preflight(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert needle in err, err


def test_preflight_accepts_a_good_sweep(data_root):  # preflight reads the data too: no shared copy needed
    preflight(["-m", "model=tiny_bert", "seed=1,2,3", "strategy=standard,reinit_top", f"data.root={data_root}"])
