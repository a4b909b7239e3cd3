"""The hub's links to systems people already run (Home Assistant discovery)."""
