"""Thin resolvers: check the viewer, call store/domain, map rows to schema types."""
