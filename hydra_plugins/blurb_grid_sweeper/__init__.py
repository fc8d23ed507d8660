"""blurb_grid: Hydra's basic grid sweep that can keep BLURB's seed count per task."""
