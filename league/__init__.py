"""League: the persistent self-play population (league issue)."""
