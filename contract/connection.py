"""A node's connection file: where its broker is and who it is.

``villagewatch provision`` writes one per node (mode 0600) with a generated password; the
edge agent and sensor firmware read it. It never lives in the site file, which is shared.

With TLS on the site (``broker.tls_port``), the file also carries the site CA certificate
(public PEM text, or a path to it) and the TLS port: the node then connects only with TLS
and only to a broker whose certificate that CA signed, never falling back to plain TCP.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contract.files import write_durably
from contract.protocol import DEFAULT_TOPIC_ROOT, Identifier, NodeRole


class NodeConnection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    site: Identifier
    node: Identifier
    role: NodeRole
    host: str
    port: int = Field(ge=1, le=65535)
    username: str
    password: str = Field(min_length=16, repr=False)
    topic_root: str = DEFAULT_TOPIC_ROOT
    #: The MQTT client id to use; the hub's is random (nodes' ids are their usernames).
    client_id: str | None = Field(None, min_length=1, max_length=128)
    #: The broker's TLS port; with ``ca`` set the node dials this instead of ``port``.
    tls_port: int | None = Field(None, ge=1, le=65535)
    #: The site CA: PEM text or the path of a PEM file. Set means TLS, and only TLS.
    ca: str | None = None

    @property
    def uses_tls(self) -> bool:
        return bool(self.ca)

    @property
    def dial_port(self) -> int:
        """The port to connect to: the TLS port when the file carries a CA."""
        return self.tls_port if self.ca and self.tls_port else self.port

    def save(self, path: Path) -> None:
        """Write the file 0600 (it holds the password), whole or not at all."""
        write_durably(Path(path), self.model_dump_json(indent=2).encode())

    @classmethod
    def load(cls, path: Path) -> NodeConnection:
        """Read a connection file; raises ValueError naming the file and field on problems."""
        try:
            return cls.model_validate(json.loads(Path(path).read_text()))
        except FileNotFoundError:
            raise ValueError(
                f"{path}: connection file not found (run villagewatch provision)"
            ) from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON: {exc}") from None
        except ValidationError as exc:
            e = exc.errors()[0]
            where = ".".join(str(p) for p in e["loc"])
            raise ValueError(f"{path}: {where}: {e['msg']}") from None
