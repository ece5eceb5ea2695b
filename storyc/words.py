"""Small helpers for text that people read."""


def count(n: int, one: str, many: str) -> str:
    """`1 story`, `3 stories`."""
    return f"{n} {one if n == 1 else many}"
