"""Data files of the shadow evaluation (a package, so they are installed with it)."""
