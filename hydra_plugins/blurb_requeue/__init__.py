"""blurb_requeue: hydra-submitit-launcher's SLURM and local launchers, with jobs that come back from a
time limit or a preemption with resume=true (conf/hydra/launcher/slurm.yaml, submitit_local_jobs.yaml)."""
