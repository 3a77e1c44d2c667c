"""Appeal packets (PDF) for the appeals team; see docs/outputs.md.

The letter's wording lives in data files next to this module: ``cover_letter.txt`` (Jinja2),
``arguments.yaml`` (argument, requested action and enclosures by denial category) and
``practice.yaml`` (the signing practice; ``CLAIMWRIGHT_PRACTICE`` names a replacement file).
"""

from .builder import PacketInfo, build_appeal_packet, packet_filename
from .config import PacketConfigError, Practice, load_letter_text, load_practice

__all__ = ["PacketConfigError", "PacketInfo", "Practice", "build_appeal_packet",
           "load_letter_text", "load_practice", "packet_filename"]
