"""phasefold application: the `phasefold` command line and the desktop GUI."""
