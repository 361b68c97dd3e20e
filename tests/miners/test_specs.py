from __future__ import annotations

from pathlib import Path

import pytest

from miners.records import Spec
from miners.specs import SpecError, load_specs, parse_spec, redact


@pytest.mark.parametrize(("text", "expected"), [
    ("pypi:roman", {"kind": "pypi", "name": "roman", "version": ""}),
    ("pypi:roman==5.2", {"kind": "pypi", "name": "roman", "version": "5.2"}),
    ("pypi:Zope.Interface == 6.0", {"kind": "pypi", "name": "Zope.Interface", "version": "6.0"}),
    ("pypi:a", {"kind": "pypi", "name": "a", "version": ""}),
    ("pypi:roman>=5,<6", {"kind": "pypi", "name": "roman", "version": "", "versions": "<6,>=5"}),
    ("pypi:roman ~= 5.0", {"kind": "pypi", "name": "roman", "versions": "~=5.0"}),
    ("pypi:roman==5.*", {"kind": "pypi", "name": "roman", "versions": "==5.*"}),
    ("pypi:more_itertools==11.2.1rc1", {"kind": "pypi", "name": "more_itertools",
                                        "version": "11.2.1rc1"}),
    ("https://github.com/o/r", {"kind": "git", "url": "https://github.com/o/r", "rev": ""}),
    ("https://github.com/o/r.git@v1.2", {"kind": "git", "url": "https://github.com/o/r.git",
                                         "rev": "v1.2"}),
    ("http://host:8080/o/r@abc123", {"kind": "git", "url": "http://host:8080/o/r",
                                     "rev": "abc123"}),
    # The "@" of the user part is not a revision; a branch may contain "/".
    ("https://user@host/o/r", {"kind": "git", "url": "https://user@host/o/r", "rev": ""}),
    ("https://user@host/o/r@release/1.x", {"kind": "git", "url": "https://user@host/o/r",
                                           "rev": "release/1.x"}),
    ("git+https://host/o/r.git@main", {"kind": "git", "url": "https://host/o/r.git",
                                       "rev": "main"}),
    ("git+ssh://git@host/o/r.git", {"kind": "git", "url": "ssh://git@host/o/r.git", "rev": ""}),
    ("ssh://git@host:2222/o/r@v1", {"kind": "git", "url": "ssh://git@host:2222/o/r",
                                    "rev": "v1"}),
    ("git://host/o/r", {"kind": "git", "url": "git://host/o/r", "rev": ""}),
    ("file:///srv/git/r", {"kind": "git", "url": "file:///srv/git/r", "rev": ""}),
    ("file:///srv/git/r@0123abc", {"kind": "git", "url": "file:///srv/git/r", "rev": "0123abc"}),
    ("git@github.com:o/r.git", {"kind": "git", "url": "git@github.com:o/r.git", "rev": ""}),
    ("git@github.com:o/r.git@v2", {"kind": "git", "url": "git@github.com:o/r.git", "rev": "v2"}),
    ("git@host:r", {"kind": "git", "url": "git@host:r", "rev": ""}),
    ("gh:pallets/click", {"kind": "git", "url": "https://github.com/pallets/click", "rev": ""}),
    ("gh:pallets/click.git@8.1.7", {"kind": "git", "url": "https://github.com/pallets/click",
                                    "rev": "8.1.7"}),
    ("gh:o/my.repo@feature/x", {"kind": "git", "url": "https://github.com/o/my.repo",
                                "rev": "feature/x"}),
    ("  pypi:roman  ", {"kind": "pypi", "name": "roman", "raw": "pypi:roman"}),
])
def test_parse_spec_accepts(text: str, expected: dict[str, str]) -> None:
    spec = parse_spec(text)
    assert {key: getattr(spec, key) for key in expected} == expected


@pytest.mark.parametrize(("text", "why"), [
    ("", "it is empty"),
    ("pypi:", "is not a valid PyPI project name"),
    ("pypi:-roman", "is not a valid PyPI project name"),
    ("pypi:ro man", "is not a valid PyPI project name"),
    ("pypi:roman_", "is not a valid PyPI project name"),
    ("pypi:roman==", "is not a valid version"),
    ("pypi:roman==5 2", "is not a valid version"),
    ("pypi:roman>=", "such as >=1.0,<2"),
    ("pypi:roman[extra]>=5", "extras, markers and URLs have no meaning here"),
    ("pypi:roman>=5; python_version<'3'", "extras, markers and URLs have no meaning here"),
    ("gh:pallets", "gh: needs OWNER/REPO"),
    ("gh:pallets/click/extra", "gh: needs OWNER/REPO"),
    ("gh:o/r@", "is not a usable git revision"),
    ("gh:o/r@-x", "is not a usable git revision"),
    ("https://host", "names no repository"),
    ("https://host/", "names no repository"),
    ("https://host/o/r@", "is not a usable git revision"),
    ("https:///o/r", "has no host"),
    ("ftp://host/o/r", "unknown URL scheme"),
    ("https://host/o r", "cannot contain spaces"),
    ("definitely-not-here", "no such directory"),
])
def test_parse_spec_refuses_with_the_accepted_forms(text: str, why: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    message = str(caught.value)
    assert why in message
    assert "\n" not in message
    for form in ("pypi:NAME==VERSION", "gh:OWNER/REPO[@REV]", "git@host:path", "local directory"):
        assert form in message


def test_a_bare_name_suggests_pypi(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"did you mean pypi:roman\?"):
        parse_spec("roman", base_dir=tmp_path)


@pytest.mark.parametrize(("text", "shown"), [
    ("https://user:token@host/o/r", "https://***@host/o/r"),
    ("https://token@host/o/r@main", "https://***@host/o/r@main"),
    ("https://u:p@ss@host/o/r", "https://***@host/o/r"),
    ("git+https://u:t@host/r", "git+https://***@host/r"),
    ("clone of 'https://x:y@h/r/' failed", "clone of 'https://***@h/r/' failed"),
    ("https://host/o/r@v1", "https://host/o/r@v1"),
    ("git@github.com:o/r.git", "git@github.com:o/r.git"),
    ("pypi:roman", "pypi:roman"),
])
def test_redact_hides_credentials_only(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_credentials_stay_out_of_errors_and_raw_text() -> None:
    spec = parse_spec("https://bob:s3cret@git.example.com/team/repo@main")
    assert spec.url == "https://bob:s3cret@git.example.com/team/repo"  # git needs them
    assert "s3cret" not in spec.raw
    with pytest.raises(SpecError) as caught:
        parse_spec("https://bob:s3cret@git.example.com")
    assert "s3cret" not in str(caught.value)
    assert "https://***@git.example.com" in str(caught.value)


def test_local_directories_resolve_against_base_dir(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "other").mkdir()
    assert parse_spec("proj", base_dir=tmp_path) == Spec(raw="proj", kind="local",
                                                         url=str(tmp_path / "proj"))
    spec = parse_spec("../proj/", base_dir=tmp_path / "other")
    assert spec.url == str(tmp_path / "proj")
    monkeypatch.chdir(tmp_path)
    assert parse_spec("./proj").url == str(tmp_path / "proj")
    assert parse_spec(str(tmp_path / "proj"), base_dir=Path("/nowhere")).kind == "local"


def test_archives_are_their_own_kind_and_other_files_are_refused(tmp_path: Path) -> None:
    for name in ("roman-5.2.tar.gz", "x.tgz", "x.tar.bz2", "x.tar", "x.ZIP"):
        (tmp_path / name).write_bytes(b"")
        assert parse_spec(name, base_dir=tmp_path) == Spec(raw=name, kind="archive",
                                                           url=str(tmp_path / name))
    (tmp_path / "notes.md").write_text("")
    with pytest.raises(SpecError, match="is a file, not a project directory"):
        parse_spec("notes.md", base_dir=tmp_path)


# --- lists and recipes ----------------------------------------------------------------------


def test_txt_lists_resolve_paths_next_to_the_list(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    (tmp_path / "proj").mkdir()
    lists.mkdir()
    (lists / "projects.txt").write_text(
        "# projects to mine\n"
        "\n"
        "pypi:roman==5.2   # pinned\n"
        "   ../proj\n"
        "https://host/o/r#egg=r\n"
        "gh:o/r@v1\n")
    specs = load_specs(["lists/projects.txt"], cwd=tmp_path)
    assert [(s.kind, s.url or s.name) for s in specs] == [
        ("pypi", "roman"), ("local", str(tmp_path / "proj")), ("git", "https://host/o/r#egg=r"),
        ("git", "https://github.com/o/r")]


def test_a_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "projects.txt"
    path.write_text("pypi:roman\n# fine\npypi:ro man\n")
    with pytest.raises(SpecError, match=rf"^{path}:3: 'pypi:ro man' is not a SPEC"):
        load_specs([str(path)], cwd=tmp_path)


def test_yaml_recipes_take_mappings_and_strings(tmp_path: Path) -> None:
    (tmp_path / "recipes" / "proj").mkdir(parents=True)
    (tmp_path / "recipes" / "mine.yaml").write_text(
        "projects:\n"
        "  - spec: pypi:roman\n"
        "    python: '3.11'\n"
        "  - proj\n"
        "  - {spec: 'gh:o/r'}\n")
    specs = load_specs(["recipes/mine.yaml"], cwd=tmp_path)
    assert [s.kind for s in specs] == ["pypi", "local", "git"]
    assert specs[1].url == str(tmp_path / "recipes" / "proj")


@pytest.mark.parametrize(("text", "where", "why"), [
    ("projects:\n  - pypi:roman\n  - spec: 'pypi:'\n", ":3:", "not a valid PyPI project name"),
    ("projects:\n  - pypi:roman\n  - name: x\n", ":3:", "each project is a SPEC string"),
    ("projects:\n  - [a, b]\n", ":2:", "each project is a SPEC string"),
    ("other: 1\n", ":1:", "a recipe needs 'projects:'"),
    ("projects: [unclosed\n", ": not valid YAML", "line"),
])
def test_bad_recipes_name_file_and_line(tmp_path: Path, text: str, where: str, why: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_specs(["bad.yml"], cwd=tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}{where}")
    assert why in message


def test_a_missing_list_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="missing.txt: no such list file"):
        load_specs(["missing.txt"], cwd=tmp_path)


def test_duplicates_are_dropped_keeping_the_first(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "more.txt").write_text("pypi:Roman\n./proj\ngh:o/r\n")
    specs = load_specs(["pypi:roman", "proj", "more.txt", "https://github.com/o/r",
                        "pypi:roman==5.2"], cwd=tmp_path)
    assert [s.raw for s in specs] == ["pypi:roman", "proj", "gh:o/r", "pypi:roman==5.2"]


def test_a_large_list_loads_in_full(tmp_path: Path) -> None:
    # How fast: tests/benchmarks/bench_specs.py (timings do not belong in tests).
    lines = [f"pypi:project-{i}=={i % 7}.{i % 13}" if i % 3 else f"gh:owner{i}/repo@v{i}"
             for i in range(50_000)]
    path = tmp_path / "big.txt"
    path.write_text("# a big list\n" + "\n".join(lines) + "\n")
    specs = load_specs([str(path)], cwd=tmp_path)
    assert len(specs) == 50_000
    assert (specs[1].name, specs[1].version) == ("project-1", "1.1")
    assert (specs[0].url, specs[0].rev) == ("https://github.com/owner0/repo", "v0")
    assert (specs[-1].name, specs[-1].version) == ("project-49999", "5.1")


def test_a_jsonl_list_carries_per_project_settings(tmp_path: Path) -> None:
    (tmp_path / "lists" / "proj").mkdir(parents=True)
    (tmp_path / "lists" / "projects.jsonl").write_text(
        '{"spec": "pypi:roman==5.2", "timeout": 900}\n'
        "\n"
        '{"spec": "proj", "python": "3.10"}\n'
        '{"spec": "gh:o/r@v1", "timeout": 60.5, "python": "3.12"}\n')
    specs = load_specs(["lists/projects.jsonl"], cwd=tmp_path)
    assert [(s.kind, s.timeout, s.python) for s in specs] == [
        ("pypi", 900.0, ""), ("local", 0.0, "3.10"), ("git", 60.5, "3.12")]
    assert specs[1].url == str(tmp_path / "lists" / "proj")  # relative to the list


@pytest.mark.parametrize("line,words", [
    ('{"spec": "pypi:roman", "timeot": 5}', "unknown key(s) 'timeot'; a line holds spec"),
    ('{"spec": "pypi:roman", "timeout": -1}', "timeout must be a number of seconds above 0"),
    ('{"spec": "pypi:roman", "timeout": true}', "timeout must be a number"),
    ('{"spec": "pypi:roman", "python": "latest"}', 'python must be a version like "3.11"'),
    ('{"timeout": 5}', 'each line is an object with a "spec" string'),
    ('["pypi:roman"]', 'each line is an object with a "spec" string'),
    ('{"spec": "pypi:roman",', "not valid JSON"),
    ('{"spec": "nope:x y"}', "is not a SPEC"),
])
def test_a_bad_jsonl_line_is_refused_by_its_number(tmp_path: Path, line: str,
                                                   words: str) -> None:
    (tmp_path / "list.jsonl").write_text('{"spec": "pypi:ok"}\n' + line + "\n")
    with pytest.raises(SpecError) as caught:
        load_specs(["list.jsonl"], cwd=tmp_path)
    assert "list.jsonl:2: " in str(caught.value) and words in str(caught.value)
