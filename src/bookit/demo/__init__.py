"""The simulated week and month: a seeded demand model run against the real service."""
