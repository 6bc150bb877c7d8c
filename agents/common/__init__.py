"""Pieces every agent reuses: devices and seeding, the replay buffer, the logger, network blocks."""
