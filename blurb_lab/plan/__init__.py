"""`blurb-lab plan`: what a sweep will cost before it runs (jobs, training tokens, FLOPs, GPU-hours,
memory and disk per job), from the same overrides as the sweep."""
