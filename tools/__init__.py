"""Scripts that work on the book itself.

Not part of `lib`, which knows nothing of notebooks.
"""
