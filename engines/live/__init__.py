"""Live mode: a real etcd cluster on loopback, at the edge of the engines.

Everything here talks to real processes and sockets, with the wall clock and threads; nothing
in engines/core, raft, paxos or lab imports it (tests/test_layering.py holds that).
"""
