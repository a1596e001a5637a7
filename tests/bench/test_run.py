"""The benchmark's own arithmetic: pooling the rounds of a size, and comparing the sizes."""

from bench.run import Result, comparison, pooled


def _result(name: str, seconds: list[float], slowest_sql: str) -> Result:
    return Result(
        name,
        target_ms=50,
        seconds=seconds,
        queries=[7] * len(seconds),
        cpu_seconds=list(seconds),
        sql_seconds=[0.001] * len(seconds),
        slowest=[(1.0, slowest_sql)],
    )


def test_pooling_joins_every_rounds_runs_and_keeps_the_slowest_runs_queries():
    first = [_result("Inbox list", [0.010, 0.020], "first"), _result("All list", [0.030], "a")]
    second = [_result("Inbox list", [0.040, 0.015], "second"), _result("All list", [0.005], "b")]

    inbox, all_list = pooled([first, second])

    assert inbox.seconds == [0.010, 0.020, 0.040, 0.015] and inbox.queries == [7, 7, 7, 7]
    assert inbox.slowest == [(1.0, "second")] and all_list.slowest == [(1.0, "a")]
    assert first[0].seconds == [0.010, 0.020], "the rounds' own results are left as they were"


def test_a_figure_more_than_twice_as_slow_at_the_largest_size_fails():
    small = pooled([[_result("Inbox list", [0.010] * 20, "x"), _result("All list", [0.010] * 20, "x")]])
    large = pooled([[_result("Inbox list", [0.019] * 20, "x"), _result("All list", [0.021] * 20, "x")]])

    lines = comparison([(100_000, small), (1_000_000, large)])

    assert lines[2].split()[-2:] == ["1.90", "PASS"] and lines[3].split()[-2:] == ["2.10", "FAIL"]
