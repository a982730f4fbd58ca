"""dashboard: a live operations page for background work."""
