"""Repository tools (not part of the installed package): lesson copies, notebook capture."""
