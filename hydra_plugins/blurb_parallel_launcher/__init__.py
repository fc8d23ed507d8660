"""blurb_parallel: hydra-joblib-launcher plus `jobs_per_device`, so that several small jobs share one
GPU and the number of jobs at once never exceeds what the machine's GPUs hold.
Select it with `hydra/launcher=parallel` (conf/hydra/launcher/parallel.yaml).
blurb_auto: the default multirun launcher (`hydra/launcher=auto`), which picks the jobs at once for
each batch by blurb_lab.parallel.auto_layout (conf/hydra/launcher/auto.yaml)."""
