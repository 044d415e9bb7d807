"""Claystream's shared contract and plumbing (nothing service-specific)."""
