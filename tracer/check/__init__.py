"""Checking a completion against a problem's test in the sandbox: the harness, the run,
and ``citrace evaluate``. What validation and evaluation share; imports nothing of
emit."""
