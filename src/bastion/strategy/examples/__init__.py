"""Example strategies: starting points, not advice."""
