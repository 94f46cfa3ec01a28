"""``LoopbackDns``: a UDP DNS server on a loopback port answering SRV queries from a zone (dnspython)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class LoopbackDns:
    """Answers SRV queries from ``zone`` (record name with its final dot -> ``"PRIORITY WEIGHT PORT
    TARGET"`` lines); NXDOMAIN for other names, an empty answer for other types."""

    def __init__(self, zone: Mapping[str, list[str]]) -> None:
        self.zone = zone
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address: tuple[str, int] = self.sock.getsockname()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def nameserver(self) -> str:
        """``IP:PORT``, as ``--srv-nameserver`` takes it."""
        return f"{self.address[0]}:{self.address[1]}"

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return  # closed
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            question = query.question[0]
            records = self.zone.get(question.name.to_text())
            if records is None:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.SRV:
                reply.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "SRV", records))
            self.sock.sendto(reply.to_wire(), peer)

    def close(self) -> None:
        self.sock.close()
