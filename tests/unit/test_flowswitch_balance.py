"""Re-weighting from measured load: the busier server gets fewer new flows, damped."""
from hitless.flowswitch.balance import Rebalancer, rates


def test_idle_cluster_weights_equal_capacity():
    r = Rebalancer()
    assert r.update({"a": 1, "b": 3}, {}) == {"a": 1.0, "b": 3.0}


def test_busier_server_gets_less_weight_equal_capacity():
    r = Rebalancer(gain=1.0)
    w = r.update({"a": 1, "b": 1}, {"a": 9e6, "b": 1e6})
    assert w["a"] < w["b"]
    assert w["a"] / w["b"] < 0.5


def test_balanced_load_in_proportion_to_capacity_keeps_weights():
    r = Rebalancer(gain=1.0)
    w = r.update({"a": 1, "b": 3}, {"a": 1e6, "b": 3e6})
    assert abs(w["a"] - 1) < 1e-9 and abs(w["b"] - 3) < 1e-9


def test_gain_damps_steps_and_clamps():
    r = Rebalancer(gain=0.5, lo=0.25, hi=4)
    w1 = r.update({"a": 1, "b": 1}, {"a": 1e9, "b": 0})
    assert 1.9 < w1["b"] < 2.1           # halfway (geometric) to the clamp of 4
    for _ in range(20):
        w = r.update({"a": 1, "b": 1}, {"a": 1e9, "b": 0})
    assert abs(w["b"] - 4) < 0.01 and abs(w["a"] - 0.5) < 0.1


def test_changed_threshold():
    r = Rebalancer(threshold=0.1)
    assert not r.changed({"a": 1.0}, {"a": 1.05})
    assert r.changed({"a": 1.0}, {"a": 1.2})
    assert r.changed({"a": 1.0}, {"a": 1.0, "b": 1.0})


def test_rates_handles_counter_reset():
    assert rates({"a": 100, "b": 50}, {"a": 300, "b": 10, "c": 5}, 2.0) == {"a": 100.0, "b": 0.0, "c": 0.0}
