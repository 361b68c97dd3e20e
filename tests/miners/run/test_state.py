"""The run's state database: keys, identity, statuses and claims."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from miners.records import ProjectResult, Spec
from miners.run.state import RunIdentity, RunMismatch, RunState, list_fingerprint, spec_keys
from recipes.records import Failure

IDENTITY = RunIdentity("abc", '{"max_asserts": 10}', "0/1", 3)


def _spec(raw: str, url: str = "") -> Spec:
    return Spec(raw=raw, kind="local", url=url or f"/x/{raw}")


def _state(tmp_path: Path) -> RunState:
    state = RunState(tmp_path / "run.sqlite")
    state.begin(IDENTITY, [("k0", 0, "a"), ("k1", 1, "b"), ("k2", 2, "c")])
    return state


def _ok(raw: str) -> ProjectResult:
    return ProjectResult(spec=raw, status="ok", stage="validate", reason="",
                         timings={"total": 1.5})


def test_spec_keys_are_stable_and_tell_apart_repeated_texts() -> None:
    specs = [_spec("a"), _spec("proj", "/one/proj"), _spec("proj", "/two/proj")]
    keys = spec_keys(specs)
    assert keys == spec_keys(list(specs))
    assert len(set(keys)) == 3 and keys[2] == f"{keys[1]}-2"
    # the same list text gives the same keys wherever the list lives
    assert spec_keys([_spec("a", "/elsewhere/a")])[0] == keys[0]
    assert list_fingerprint(keys) != list_fingerprint(keys[::-1])


def test_the_database_is_in_wal_mode_and_readable_while_written(tmp_path: Path) -> None:
    with _state(tmp_path) as state:
        state.mark_running("k0", pid=123, pid_started="99")
        reader = RunState(tmp_path / "run.sqlite", readonly=True)
        assert reader.counts() == {"pending": 2, "running": 1}
        reader.close()
    mode = sqlite3.connect(tmp_path / "run.sqlite").execute("PRAGMA journal_mode").fetchone()
    assert mode == ("wal",)


def test_a_different_list_settings_or_shard_is_another_run(tmp_path: Path) -> None:
    _state(tmp_path).close()
    with RunState(tmp_path / "run.sqlite") as state:
        state.begin(IDENTITY, [])  # the same run: fine
        for other, words in [(RunIdentity("xyz", IDENTITY.settings, "0/1", 4), "SPEC list"),
                             (RunIdentity("abc", '{"max_asserts": 3}', "0/1", 3), "settings"),
                             (RunIdentity("abc", IDENTITY.settings, "1/2", 3), "shard 0/1")]:
            with pytest.raises(RunMismatch, match=words):
                state.begin(other, [])


def test_finishing_records_the_result_and_claims_in_one_go(tmp_path: Path) -> None:
    with _state(tmp_path) as state:
        state.mark_running("k1", pid=1, pid_started="5")
        state.mark_stage("k1", "build")
        assert state.running_workers() == [("k1", 1, "5")]
        state.finish("k1", _ok("b"), [("t/x", 0), ("t/y", 1)])
        [row] = state.rows(status="ok")
        assert (row["key"], row["stage"], row["problems"], row["seconds"]) == \
            ("k1", "validate", 2, 1.5)
        claim = state.claim("t/y")
        assert claim is not None and (claim.key, claim.raw, claim.idx, claim.pos) == \
            ("k1", "b", 1, 1)
        assert [r["spec"] for r in state.results()] == ["b"]
        assert state.running_workers() == []


def test_interrupted_projects_and_failed_ones_go_back_to_pending(tmp_path: Path) -> None:
    with _state(tmp_path) as state:
        state.mark_running("k0", pid=1, pid_started="5")
        failed = ProjectResult.failed("b", Failure("test", "tests_failed", "1 failed"))
        state.finish("k1", failed, [])
        state.finish("k2", _ok("c"), [("t/z", 0)])
        assert state.requeue_running() == 1
        assert state.retry_failed() == 1
        assert state.counts() == {"pending": 2, "ok": 1}
        assert [r["spec"] for r in state.results()] == ["c"]
        state.requeue(["k2"])
        assert state.claim("t/z") is None and state.counts() == {"pending": 3}
