"""cskd: a benchmarking suite for knowledge distillation, reproducing CSKD (Chen et al., ECCV 2020)."""

__version__ = "0.1.0"
