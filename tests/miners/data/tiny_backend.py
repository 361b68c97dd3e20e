"""A PEP 517 build backend with no requirements, for the tiny projects of batch-run tests:
pip installs nothing to build, and an editable install is one ``.pth`` line, so a project
builds in seconds. Name and version come from the ``pyproject.toml`` next to it."""

import base64
import hashlib
import os
import re
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "pyproject.toml")) as _pyproject:
    _TEXT = _pyproject.read()
NAME = re.search(r'^name = "(.+)"', _TEXT, re.MULTILINE).group(1)
VERSION = re.search(r'^version = "(.+)"', _TEXT, re.MULTILINE).group(1)
DIST = NAME + "-" + VERSION


def get_requires_for_build_wheel(config_settings=None):
    return []


get_requires_for_build_editable = get_requires_for_build_wheel


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {NAME + ".pth": HERE + "\n"})


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    package = os.path.join(HERE, NAME)
    files = {}
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            with open(os.path.join(package, name)) as source:
                files[NAME + "/" + name] = source.read()
    return _wheel(wheel_directory, files)


def _wheel(directory, files):
    info = DIST + ".dist-info/"
    files = dict(files)
    files[info + "METADATA"] = f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
    files[info + "WHEEL"] = ("Wheel-Version: 1.0\nGenerator: citrace-tests\n"
                             "Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = []
    name = DIST + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as wheel:
        for path, text in files.items():
            data = text.encode()
            wheel.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(data)}")
        record.append(info + "RECORD,,")
        wheel.writestr(info + "RECORD", "\n".join(record) + "\n")
    return name
