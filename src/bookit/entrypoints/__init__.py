"""What drives BookIT: the command line, the link pages, the service loop and the bus worker.

Each takes a `Service` (see `bookit.bootstrap`) and plain settings, and turns what it receives
into commands. Nothing in the core imports from here."""
