"""How strong a problem's test is: mutants of the canonical solution
(``tracer.strength.mutants``) that the test should reject. Import the modules themselves;
this package's front door loads nothing."""
