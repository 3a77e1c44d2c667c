"""Appeal packets (PDF) for the appeals team; see docs/packets.md.

The wording is data next to this module: ``letters/`` (one Jinja2 letter per denial category,
``letters.yaml`` naming each category's template and required documents), ``forms.yaml`` (the
payers' forms) and ``practice.yaml`` (the signing practice; ``CLAIMWRIGHT_PRACTICE`` names a
replacement file).
"""

from .builder import (Enclosure, PacketInfo, build_appeal_packet, inputs_digest,
                      needed_documents, packet_filename)
from .config import PacketConfigError, Practice, load_practice
from .letters import Letters, load_letters

__all__ = ["Enclosure", "Letters", "PacketConfigError", "PacketInfo", "Practice",
           "build_appeal_packet", "inputs_digest", "load_letters", "load_practice",
           "needed_documents", "packet_filename"]
