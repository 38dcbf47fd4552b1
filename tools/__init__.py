"""Scripts that work on the book itself (not part of `lib`, which knows nothing of notebooks)."""
