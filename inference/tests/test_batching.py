"""Token events that the channel layer has not taken yet are merged, in order."""

from inference.worker import coalesce


def tokens(group, text):
    return (group, {"type": "inference.tokens", "text": text})


def test_queued_token_events_of_a_group_become_one():
    done = ("g1", {"type": "inference.done", "text": "abcd"})
    merged = coalesce([tokens("g1", "a"), tokens("g1", "b"), tokens("g1", "c"), done])
    assert merged == [tokens("g1", "abc"), done]


def test_other_events_and_groups_keep_their_place():
    flush = (None, object())
    started = ("g1", {"type": "inference.started"})
    items = [started, tokens("g1", "a"), tokens("g2", "x"), tokens("g1", "b"), flush, tokens("g1", "c")]
    assert coalesce(items) == items
