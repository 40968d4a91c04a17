"""Tools for tests of BookIT and of users' own rules: invariants over a service, and more."""
