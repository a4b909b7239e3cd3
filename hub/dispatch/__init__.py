"""Dispatch: patrol units, their positions, suggestions and assignments (see docs/dispatch.md)."""
