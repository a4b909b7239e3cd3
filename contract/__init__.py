"""The contract between edge gateways and the community hub.

Both ``edge`` and ``broker`` import this package; they never import each other.
It holds the wire protocol (:mod:`contract.protocol`) and the site configuration
schema (:mod:`contract.siteconfig`).
"""

__version__ = "0.1.0"
