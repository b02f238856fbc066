"""Live events: typed messages on per-organization broadcast channels."""
