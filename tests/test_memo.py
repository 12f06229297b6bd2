"""The bounded memo the hot path keeps what it worked out in."""

from __future__ import annotations

from mockgateway._memo import Memo


def test_a_memo_keeps_values_and_forgets_all_when_full() -> None:
    memo: Memo[str, int] = Memo(3)
    assert memo.keep("a", 1) == 1
    memo.keep("b", 2)
    memo.keep("c", 3)
    assert dict(memo) == {"a": 1, "b": 2, "c": 3}
    memo.keep("b", 20)  # a key kept again while full still clears first: never above the limit
    assert dict(memo) == {"b": 20}
    for n in range(10):
        memo.keep(f"k{n}", n)
        assert len(memo) <= 3
    assert memo.get("missing") is None
