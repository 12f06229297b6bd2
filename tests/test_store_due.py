"""The memory store's timed work in due order (mockgateway/store/_due.py), against a plain heap."""

from __future__ import annotations

import heapq

from hypothesis import given, settings
from hypothesis import strategies as st

from mockgateway.store import TaskKind
from mockgateway.store._due import DueQueue, Entry

# each step: schedule work due at a time, take what is due by a time (up to a limit), or give
# back the work taken last
_steps = st.lists(
    st.tuples(st.sampled_from(["push", "take", "back"]), st.integers(0, 20), st.integers(1, 5)),
    max_size=80,
)


@settings(max_examples=300)
@given(_steps)
def test_work_comes_out_earliest_first_and_in_scheduled_order_as_a_heap_gives_it(
    steps: list[tuple[str, int, int]],
) -> None:
    queue, model = DueQueue(), list[Entry]()
    seq = 0
    last: list[Entry] = []
    for action, at, limit in steps:
        if action == "push":
            entry = (float(at), seq, TaskKind.START, f"r{seq}")
            seq += 1
            queue.push(entry)
            heapq.heappush(model, entry)
        elif action == "take":
            now = float(at)
            expected = []
            while model and model[0][0] <= now and len(expected) < limit:
                expected.append(heapq.heappop(model))
            last = queue.take_due(now, limit)
            assert last == expected
        else:
            for entry in last:
                queue.push_back(entry)
                heapq.heappush(model, entry)
            last = []
        assert len(queue) == len(model)
        assert queue.first_due() == (model[0][0] if model else None)


def test_work_scheduled_out_of_due_order_still_comes_out_in_due_order() -> None:
    queue = DueQueue()
    for seq, due in enumerate([5.0, 5.0, 7.0, 3.0, 5.0, 9.0, 1.0]):
        queue.push((due, seq, TaskKind.DEADLINE, f"r{seq}"))
    taken = queue.take_due(100.0, 100)
    assert [(due, seq) for due, seq, _, _ in taken] == [
        (1.0, 6),
        (3.0, 3),
        (5.0, 0),
        (5.0, 1),
        (5.0, 4),
        (7.0, 2),
        (9.0, 5),
    ]
    assert len(queue) == 0
    assert queue.first_due() is None
