"""Throughput measurement: the training loop of the public KD codebases against the suite's lockstep engine.

``benchmarks/throughput.py`` is the command; this package (beside it, outside the library) holds its parts: the
shared configuration (:mod:`throughput_parts.config`), the reference loop (:mod:`throughput_parts.reference`), the
timed engine runs and their speed levers (:mod:`throughput_parts.engine_runs`), the measurement record
(:mod:`throughput_parts.timing`), peak memory (:mod:`throughput_parts.memory`) and the other processes' load during a
timing (:mod:`throughput_parts.load`). The compute-hours estimate it prints for whole paper tables is the library's
cost model, :mod:`cskd.cost`.
"""
