"""The appeal's life after its packet is written (issue 11): levels and their deadlines
(:mod:`.levels`), what the status check learns about an appeal (:mod:`.status`), the figures the
team and leadership ask for (:mod:`.figures`), the recovery likelihood learned from outcomes
(:mod:`.learning`) and the ``claimwright appeals`` command (:mod:`.cli`).

The records live in the ledger's ``appeals`` table (:class:`claimwright.storage.AppealRecord`,
methods of :class:`claimwright.storage.appeals.AppealLedger`). docs/appeals.md is the guide.
"""
