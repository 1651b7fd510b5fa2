"""hitless.lab.poll.wait_for: returns the first truthy value, times out with a clear message."""
import pytest

from hitless.errors import LabError
from hitless.lab.poll import PollTimeout, wait_for


def test_returns_the_first_truthy_value():
    values = iter([None, 0, "", {"state": "up"}])
    assert wait_for(lambda: next(values), 5, "state", step=0) == {"state": "up"}


def test_times_out_naming_what_and_the_last_value():
    with pytest.raises(PollTimeout) as err:
        wait_for(lambda: [], 0.05, "the moon", step=0.01, detail=lambda: "log tail here")
    assert isinstance(err.value, LabError) and isinstance(err.value, TimeoutError)
    msg = str(err.value)
    assert "the moon" in msg and "last: []" in msg and "log tail here" in msg


def test_checks_once_more_at_the_deadline():
    calls = []
    assert wait_for(lambda: calls.append(1) or len(calls) >= 1, 0, "immediate")
