"""MkDocs hooks (mkdocs.yml `hooks:`): the space-file reference is written from the pydantic schema at build
time, so docs/spaces.md can't drift from what `gansearch validate` accepts; the benchmark plots stay in
bench/results/ and are added to the site from there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent
REFERENCE = "<!-- gansearch:reference -->"  # where docs/spaces.md takes the generated reference
RESULTS = "bench-results"  # the site's path for bench/results/*.png


def on_files(files: Files, config: Any) -> Files:
    for png in sorted((ROOT / "bench" / "results").glob("*.png")):
        files.append(File.generated(config, f"{RESULTS}/{png.name}", abs_src_path=str(png)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if REFERENCE in markdown:
        from gansearch.config.reference import markdown as reference

        return markdown.replace(REFERENCE, reference())
    return markdown
