"""Answering with a rule set: the second of the engine's two phases.

Given a built rule set (seoib.rules), evaluates compiled queries (solver), turns
evaluations into the public verdicts with their reasons and simulator witnesses
(verdicts, witness; their shapes as TypedDicts in verdict_types), memoizes them by
class in one VerdictCache (verdict_cache) that every caller shares, serves them
through one facade (api) and by equivalence class (classes), answers JSON-lines
batches (batch) and renders verdicts for people (text).

It imports the shared leaves, seoib.rules and the simulator, never the packages
built on it (plan, matrix, inputs, serve, commands); tests/test_layers.py pins
that direction.
"""
