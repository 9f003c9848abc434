"""`seoib serve`: the decision service (HTTP/JSON) over one rule set.

``app.Service`` is the ASGI application (routes, budgets, views); ``requests`` reads a
request (refusals, content types, options) and ``redact`` keeps server paths out of the
answers. ``supervisor.serve`` checks the exposure, binds, forks a worker per core,
replaces stalled ones and handles reloads; ``exposure`` holds tokens, TLS and the
loopback rule; ``protocol`` guards connections (header, body and idle timeouts, header
and connection caps); ``jobs`` runs heavy requests in budgeted job processes; ``metrics``
(prometheus_client, multiprocess) and ``decisions`` (the decision log) record what was
answered; ``openapi`` describes it and ``healthcheck`` probes it for a container. The
server is uvicorn with the httptools parser and the uvloop event loop (the ``serve`` extra).
"""
