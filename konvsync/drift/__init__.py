"""Drift: read from a plan, reported from the portal's side, accepted into the YAML."""
