"""Sphinx extension: drop repeated <script> entries from each HTML page.

sphinx-thebe (loaded by jupyter-book) registers its inline configuration script on
`env-before-read-docs`, which fires twice in a jupyter-book build, so every page
declared `const THEBE_JS_URL` twice and the browser logged a SyntaxError on every page
(sphinx-togglebutton's inline selector is repeated the same way, harmlessly). This keeps
the first copy of each identical script (same file, same inline body, same attributes).
"""

from __future__ import annotations


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        # Inline scripts come with filename None from one caller and "" from another.
        key = (
            getattr(js, "filename", str(js)) or "",
            tuple(
                sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items())
            ),
        )
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app):
    """Register the extension (Sphinx entry point)."""
    app.connect(
        "html-page-context", _dedupe, priority=900
    )  # after the other extensions add theirs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
