"""Command line: argv in, exit codes out. Nothing imports this package."""
