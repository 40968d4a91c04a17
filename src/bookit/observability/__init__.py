"""How a running BookIT says how it is (DESIGN rule 21): metrics, readiness, logs, traces.

- metrics.py: the Prometheus families of CONTRACT.md "Operations", counted where things happen
- figures.py: the store's figures (follower lag, pending mail, overdue timers, open offers)
- health.py: readiness checks (store, broker, followers), for /readyz and `bookit status`
- endpoints.py: /livez, /readyz, /metrics and the access log in front of the HTTP app
- observe.py: what the bus, the store and the doors call (one line each where they are)
- logs.py: `BOOKIT_LOG_FORMAT=json` (or readable text), and no address in any line
- tracing.py, otel.py: W3C `traceparent` carried to events and messages; the SDK when configured
"""
