"""The bundled registry with the tools of tests/data/frames (hand-written x-frames and x-slots) in place of theirs.

Tests that need hand-written phrasing use these three tools (find_nearby_places, book_restaurant_table,
get_weather_forecast), whatever the bundled files carry.
"""

from pathlib import Path

from generators.registry import Registry, load_registry

REPO = Path(__file__).resolve().parents[2]
FRAMES_DIR = REPO / "tests" / "data" / "frames"


def framed_registry() -> Registry:
    """The bundled tools, with the fixture versions of the framed ones."""
    framed = load_registry(FRAMES_DIR)
    names = {t.name for t in framed}
    return Registry([*(t for t in load_registry(REPO / "tool_schemas") if t.name not in names), *framed])
