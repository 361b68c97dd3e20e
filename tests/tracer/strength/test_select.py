"""Choosing the blocks that kill the most mutants, recorded ones first."""

from __future__ import annotations

from tracer.strength.select import AUGMENTED, RECORDED, Pooled, select


def block(name: str, source: str, kills: list[int], size: int = 10,
          expected: str = "") -> Pooled:
    return Pooled(name.ljust(size), source, frozenset(kills), expected or name)


def test_greedy_cover_takes_the_biggest_killer_and_breaks_ties_by_rank() -> None:
    pool = [block("a", RECORDED, [1]), block("b", RECORDED, [1, 2, 3]),
            block("c", RECORDED, [4]), block("d", RECORDED, [4])]
    assert select(pool, limit=2, max_chars=1000) == [1, 2]


def test_augmented_blocks_only_for_what_no_recorded_block_kills() -> None:
    pool = [block("r1", RECORDED, [1]), block("r2", RECORDED, [2]),
            block("a1", AUGMENTED, [1, 2]), block("a2", AUGMENTED, [3]),
            block("a3", AUGMENTED, [])]
    assert select(pool, limit=10, max_chars=1000) == [0, 1, 3]


def test_places_left_go_to_recorded_blocks_in_rank_order() -> None:
    pool = [block("r1", RECORDED, []), block("r2", RECORDED, [1]), block("r3", RECORDED, []),
            block("a1", AUGMENTED, [])]
    assert select(pool, limit=2, max_chars=1000) == [0, 1]


def test_a_test_keeps_a_recorded_block_even_when_derived_ones_kill_more() -> None:
    pool = [block("r", RECORDED, []), block("a", AUGMENTED, [1])]
    assert select(pool, limit=1, max_chars=1000) == [0]


def test_the_test_stays_under_its_length_bound() -> None:
    pool = [block("big", RECORDED, [1, 2], size=600), block("s1", RECORDED, [1], size=100),
            block("s2", RECORDED, [2], size=100)]
    assert select(pool, limit=10, max_chars=500, base_chars=200) == [1, 2]


def test_a_test_of_fewer_than_three_recorded_blocks_is_topped_up_with_derived_ones() -> None:
    pool = [block("r", RECORDED, [1]), block("a1", AUGMENTED, []), block("a2", AUGMENTED, []),
            block("a3", AUGMENTED, [])]
    assert select(pool, limit=10, max_chars=1000) == [0, 1, 2]
    assert select(pool, limit=2, max_chars=1000) == [0, 1]


def test_the_top_up_shows_results_the_test_does_not_show_yet() -> None:
    pool = [block("r", RECORDED, [1], expected="4"), block("a1", AUGMENTED, [], expected="4"),
            block("a2", AUGMENTED, [], expected="0"), block("a3", AUGMENTED, [], expected="0"),
            block("a4", AUGMENTED, [], expected="7")]
    assert select(pool, limit=10, max_chars=1000) == [0, 2, 4]


def test_a_test_keeps_a_recorded_result_when_raises_alone_kill_every_mutant() -> None:
    # Raises alone would pass a body that raises that exception for everything.
    raises = "    assert _raised(lambda: candidate(1)) == 'ValueError'\n"
    pool = [Pooled(raises, RECORDED, frozenset({1, 2})),
            Pooled(raises.replace("1", "2"), AUGMENTED, frozenset({3})),
            block("r", RECORDED, [])]
    assert select(pool, limit=3, max_chars=1000) == [0, 1, 2]  # room: added
    assert select(pool, limit=2, max_chars=1000) == [0, 2]  # full: swapped for the last


def test_a_derived_block_that_kills_many_gets_a_place_when_recorded_ones_fill_the_test() -> None:
    # Twenty years all with method 3, each killing one more mutant; method 2, derived, kills
    # four the recorded ones never reach.
    pool = [block(f"r{n}", RECORDED, [n]) for n in range(5)]
    pool.append(block("a", AUGMENTED, [10, 11, 12, 13]))
    assert select(pool, limit=3, max_chars=1000) == [0, 1, 5]
    # Half the places at least stay recorded, however much the derived blocks kill.
    pool += [block("b", AUGMENTED, [20, 21, 22]), block("c", AUGMENTED, [30, 31, 32])]
    chosen = select(pool, limit=4, max_chars=1000)
    assert chosen == [0, 1, 5, 6]
    # Where recorded blocks leave places, derived ones only add what they miss (as before).
    assert select(pool[:6], limit=10, max_chars=1000) == [0, 1, 2, 3, 4, 5]
