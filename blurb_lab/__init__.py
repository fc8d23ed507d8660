"""blurb_lab: fine-tuning stability sweeps on the BLURB biomedical benchmark."""

__version__ = "0.1.0"
