"""blurb_parallel: hydra-joblib-launcher plus `jobs_per_device`, so that several small jobs share one
GPU and the number of jobs at once never exceeds what the machine's GPUs hold.
Select it with `hydra/launcher=parallel` (conf/hydra/launcher/parallel.yaml)."""
