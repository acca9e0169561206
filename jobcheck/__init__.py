"""jobcheck: a static analyzer for Python background-job code."""

__version__ = "0.1.0"
HOMEPAGE = "https://github.com/jobcheck/jobcheck"  # the project's home; rule docs live under rules/
