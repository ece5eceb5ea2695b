"""Small helpers for text that people read."""


def count(n: int, one: str, many: str) -> str:
    """`1 story`, `3 stories`."""
    return f"{n} {one if n == 1 else many}"


def short(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters, cut at a word boundary with `…`."""
    line = " ".join(str(text).split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def table_cell(text: object) -> str:
    """Text made safe for one cell of a Markdown table: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")
