"""Development tooling, never part of the product: the embedded PostgreSQL, the secrets it
generates, the `make run` supervisor, and the hook that prepares all of it where a process starts.

Nothing here imports an app; the apps and the composition root may import it (the demo keeps its
key among the development secrets).
"""
