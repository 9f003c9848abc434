"""Building a rule set: the first of the engine's two phases.

Reads the YAML rules (loader, overlay), checks them against the JSON schemas,
turns them into the rule language's objects (language, versions, catalog,
lineage), compiles each query's rules (compiler), and bundles the result with
the resolver that turns host and VM specs (specs, resolve) into a query's input
facts (ruleset). The compiled rule set is cached as data (rulecache).

Only this package uses jsonschema and networkx. It imports nothing of the
answering phase (seoib.query) or of the packages built on it; the direction is
pinned by tests/test_layers.py.
"""
