"""Reports: HTML (Jinja) with inline SVG charts, and CSV outputs."""
