"""Pure domain logic: no I/O, tested without services."""
