"""The solver fixtures and testkit, the tests' helpers for them (`from golden.solvers import testkit as kit`)."""
