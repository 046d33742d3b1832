"""Executors of ``cskd run``: the in-process runner (the default), and one job per lockstep group through submitit on
this machine's GPUs or CPU workers (``local``) or on a SLURM cluster (``slurm``); ``cskd status`` follows them.

Submodules import submitit; this package's ``config`` and ``cli`` do not, so ``cskd --help`` stays fast.
"""
