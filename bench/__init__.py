"""Benchmark harness for the order engine (issue 6).

`python -m bench --help` for the options; BENCHMARKS.md for the figures and
how they were taken. The harness is a client: it talks to the engine over
HTTP and WebSocket only, and reads /proc for the CPU and memory of the
engine's processes. It imports nothing from the engine.
"""
