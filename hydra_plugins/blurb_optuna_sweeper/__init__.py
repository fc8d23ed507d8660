"""blurb_optuna: a Hydra sweeper on current Optuna that scores every trial over several seeds.

Shipped with blurb_lab instead of hydra-optuna-sweeper 1.3.0, which pins optuna<3, stops the
whole sweep on a NaN objective and turns a command-line seed list into a search dimension.
Select it with `hydra/sweeper=blurb_optuna` or a `conf/hparams_search/*.yaml` preset.
"""

__version__ = "0.1.0"
