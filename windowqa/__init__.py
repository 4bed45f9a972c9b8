"""windowqa."""
