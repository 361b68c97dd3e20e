"""Building a recipe's environment and running its tests: tox, a plain virtualenv, or a
CI job's shell steps; the installers they use and the reading of their failures."""
