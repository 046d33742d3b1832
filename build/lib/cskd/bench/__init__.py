"""Throughput measurement: the training loop of the public KD codebases against the suite's lockstep engine.

``benchmarks/throughput.py`` is the command; this package holds its parts: the shared configuration
(:mod:`cskd.bench.config`), the reference loop (:mod:`cskd.bench.reference`), the timed engine runs and their speed
levers (:mod:`cskd.bench.engine_runs`), the measurement record (:mod:`cskd.bench.timing`), peak memory
(:mod:`cskd.bench.memory`), the other processes' load during a timing (:mod:`cskd.bench.load`) and the compute-hours
estimate for whole paper tables (:mod:`cskd.bench.estimate`).
"""
