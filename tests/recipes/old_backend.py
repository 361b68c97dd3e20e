"""A project whose build backend predates PEP 660 (wheels and sdists, no ``build_editable``),
in-tree so that building it needs no index; its package lives in ``lib/``, where no guess
about the layout finds it."""

BACKEND = '''
"""A build backend of before PEP 660: wheels and sdists, no editable installs."""
import base64
import hashlib
import os
import tarfile
import zipfile

NAME, VERSION = "oldback", "1.0"
DIST_INFO = "%s-%s.dist-info" % (NAME, VERSION)
METADATA = "Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n" % (NAME, VERSION)


def _digest(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {}
    for root, _, names in os.walk(os.path.join("lib", NAME)):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(root, name)
                with open(path, "rb") as source:
                    files[os.path.relpath(path, "lib")] = source.read()
    files[DIST_INFO + "/METADATA"] = METADATA.encode()
    files[DIST_INFO + "/WHEEL"] = (b"Wheel-Version: 1.0\\nGenerator: oldback\\n"
                                   b"Root-Is-Purelib: true\\nTag: py3-none-any\\n")
    record = ["%s,sha256=%s,%d" % (p, _digest(d), len(d)) for p, d in files.items()]
    files[DIST_INFO + "/RECORD"] = ("\\n".join(record + [DIST_INFO + "/RECORD,,"]) + "\\n").encode()
    wheel = "%s-%s-py3-none-any.whl" % (NAME, VERSION)
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (NAME, VERSION)
    with tarfile.open(os.path.join(sdist_directory, base + ".tar.gz"), "w:gz") as archive:
        for entry in ("pyproject.toml", "_backend", "lib"):
            archive.add(entry, arcname=base + "/" + entry)
    return base + ".tar.gz"
'''

OLD_BACKEND_PROJECT = {
    "pyproject.toml": """
        [build-system]
        requires = []
        build-backend = "backend"
        backend-path = ["_backend"]
    """,
    "_backend/backend.py": BACKEND,
    "lib/oldback/__init__.py": '''
        def triple(x):
            """Three times ``x``."""
            return 3 * x


        def shout(word):
            """``word`` in capitals, with an exclamation mark."""
            return word.upper() + "!"
    ''',
    "tests/test_oldback.py": """
        import oldback


        def test_triple():
            assert oldback.triple(2) == 6
            assert oldback.triple(-1) == -3


        def test_shout():
            assert oldback.shout("hey") == "HEY!"
    """,
}
