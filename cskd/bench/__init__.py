"""Throughput measurement: the training loop of the public KD codebases against the suite's lockstep engine.

``benchmarks/throughput.py`` is the command; this package holds its parts: the shared configuration
(:mod:`cskd.bench.config`), the reference loop (:mod:`cskd.bench.reference`), the timed engine runs and their speed
levers (:mod:`cskd.bench.engine_runs`), peak-memory readings (:mod:`cskd.bench.memory`) and the compute-hours
estimate for whole paper tables (:mod:`cskd.bench.estimate`).
"""
