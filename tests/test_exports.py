"""The public API is what ``__all__`` says: every name importable, the list sorted."""

from __future__ import annotations

import mockgateway


def test_all_names_exist_and_are_sorted() -> None:
    names = mockgateway.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(mockgateway, name), name


def test_nothing_public_is_left_out_of_all() -> None:
    public = {n for n in vars(mockgateway) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(mockgateway.__all__)
