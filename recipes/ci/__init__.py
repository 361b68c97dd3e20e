"""CI configuration read into ``Recipe``s: tox, Travis, GitHub Actions, and the fallback
recipe; the shell steps of CI jobs judged."""
