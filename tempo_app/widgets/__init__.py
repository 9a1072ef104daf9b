"""Widgets: each observes state objects and writes back through their setters."""
