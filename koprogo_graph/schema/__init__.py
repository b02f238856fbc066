"""GraphQL types and inputs (no resolvers, no transport: see ``resolvers/`` and ``api/``).

The domain enums get their GraphQL definitions (with descriptions) here, first, before any
annotation naming them is resolved (which would define them a second time, bare).
"""

from . import enums as _enums  # noqa: F401
