"""The velo-tui engine: loading, generation, execution, DLQ and assertions.

Nothing in this package imports Textual or rich, so the debugger, the REPL and the headless
runner are thin faces over the same API.
"""
