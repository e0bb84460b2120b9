"""Live mode: a real etcd cluster on loopback, at the edge of the app.

Everything here talks to real processes and sockets, with the wall clock and threads, so it
lives outside engines/, which stays reproducible from its seed (tests/test_layering.py); it
uses the engines' action table, script parser and linearizability checker.
"""
