"""velo-tui: a terminal debugger and test runner for Velostream streaming-SQL pipelines."""

__version__ = "0.1.0"
