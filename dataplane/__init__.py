"""What the data plane's endpoints share, whichever product they serve: the P-code errors and
their JSON answer, the API key taken from a request, request bodies read within a limit, the
per-key token buckets, and the ASGI middleware that gives every request an id and one log line.

A plain package: it imports no app (products build their endpoints on it; see
docs/architecture.md).
"""
