"""Subcommands of the windowqa CLI, one module per stage."""
