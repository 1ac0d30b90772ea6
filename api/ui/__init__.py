"""The review desk: server-rendered pages (Jinja2) for CSMs, sales reps and admins, fa and en."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE.parent / "static"
TEMPLATES_DIR = HERE.parent / "templates"
