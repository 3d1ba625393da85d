"""Small shared helpers for the Hydra entry points."""
