"""Sphinx configuration of the lesson book (``make book``; sources staged by ``build.py``).

The lessons are rendered from the executed copies nbval leaves in ``build/executed/`` (so
nothing is executed again: ``nb_execution_mode = "off"``). The Binder buttons point at the
README's Binder image; set ``CLASSICSEG_REPO_URL`` / ``CLASSICSEG_BOOK_REF`` (a tag or commit
for a workshop, see ``workshop.md``) to point them elsewhere.
"""

import os

project = "classicseg lessons"
author = "classicseg developers"
copyright = "classicseg developers"  # noqa: A001 - Sphinx's name

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}

# -- notebooks: render the stored outputs, never execute ----------------------------------
nb_execution_mode = "off"
nb_output_stderr = "show"  # a warning a student would see stays visible
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# Links from the lessons/guide to files outside the book are fine to leave unresolved.
suppress_warnings = ["myst.xref_missing", "myst.header", "misc.highlighting_failure"]

# -- theme ---------------------------------------------------------------------------------
REPO_URL = os.environ.get("CLASSICSEG_REPO_URL", "https://github.com/classicseg/classicseg")
REF = os.environ.get("CLASSICSEG_BOOK_REF", "HEAD")

html_theme = "sphinx_book_theme"
html_title = "classicseg: classical vs LiteMedSAM box-prompted segmentation"
html_theme_options = {
    "repository_url": REPO_URL,
    "repository_branch": REF,
    "path_to_docs": "",  # staged pages keep their repository paths (notebooks/<name>.ipynb)
    "use_repository_button": True,
    "launch_buttons": {"binderhub_url": "https://mybinder.org",
                       "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
}
html_static_path = []
