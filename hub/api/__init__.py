"""The hub's HTTP side: API, authentication and the officer page."""
