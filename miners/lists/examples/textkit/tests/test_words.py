from textkit import rle_decode, rle_encode, slugify, wrap_words


def test_slugify():
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("  Café au lait  ") == "cafe-au-lait"
    assert slugify("a--b", separator="_") == "a_b"


def test_wrap_words():
    assert wrap_words("the quick brown fox", 10) == ["the quick", "brown fox"]
    assert wrap_words("", 5) == []
    assert wrap_words("extraordinary word", 5) == ["extraordinary", "word"]


def test_rle_round_trip():
    for text in ["aaabcc", "", "abc", "zzzzzz"]:
        assert rle_decode(rle_encode(text)) == text
    assert rle_encode("aab") == [("a", 2), ("b", 1)]
