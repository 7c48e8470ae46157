"""Example callout modules for dhcpd's callout API (Microsoft DHCP Server callout semantics).

Each module here is a complete, documented callout that you can load as it is
or copy as a starting point:

- ``callouts/a_fanout.py``: the chaining example; loads the rest of the list
  and fans every event out to it (read it first if you configure several).
- ``callouts/audit_log.py``: one JSON line per lease event.
- ``callouts/dnsmasq_script.py``: runs a dnsmasq ``--dhcp-script`` compatible
  lease script (``add``/``old``/``del``).
- ``callouts/mac_filter.py``: Microsoft's MAC filter list (``MAC_ACTION = {ALLOW}``
  or ``{DENY}``, then one MAC a line).

Callouts import only the public API (``dhcpd.hooks``, ``dhcpd.wire``), the
standard library, structlog, and ``callouts._settings`` (how a module finds its
own settings). The package must be importable by the daemon (run it from the
directory holding ``callouts/``, or put that directory on ``PYTHONPATH``), also
when the modules are configured by path.
"""
