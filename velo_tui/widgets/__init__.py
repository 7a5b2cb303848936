"""Panels of the full-screen debugger: statements, topics, records, DLQ entries and the command bar."""
