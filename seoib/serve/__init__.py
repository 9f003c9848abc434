"""`seoib serve`: the decision service (HTTP/JSON) over one rule set.

``app.Service`` is the ASGI application; ``supervisor.serve`` binds, forks a
worker per core and handles reloads; ``metrics.Metrics`` keeps Prometheus
counters shared by the workers. The server is uvicorn with the httptools
parser and the uvloop event loop (the ``serve`` extra).
"""
