"""The ground floor below every other package: plumbing that knows nothing of hockey or learning.

``cli``: how a command-line entry point ends, with one line for bad input and never a traceback.
"""
