"""Screens of the full-screen debugger: the main screen and its modal dialogs."""
