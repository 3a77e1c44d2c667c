"""The plain, testable stages the Prefect flows call, each over explicit units of work.

pull_payer()          stage 1: the bot downloads new remittances (a ``pull`` unit per payer);
                      each document is recorded as it is saved, with its ``parse`` unit
process_documents()   stage 2: parse + balance every document (a ``parse`` unit each)
write_outputs()       stage 3: categorize, packets, worklist rows, review items (an ``outputs``
                      unit each), then the waiting worklist rows (a ``worklist`` unit)
write_appeals_queue() stage 4: the appeals team's list, with priorities recomputed for the day
check_payer_statuses() the nightly claim and appeal status check (a ``status-query`` unit per
                      payer and day; ``claimwright.pipeline.followup``)

Units are taken under leases and released only when all their outputs exist
(``claimwright.units``): a run that dies anywhere is resumed by the next one, and a rerun adds
nothing twice. One failed unit is one review item, never a crashed batch.
"""

from .appeals_queue import refresh_priorities, write_appeals_queue
from .context import Context, Counts, RunCounts
from .outputs import write_outputs, write_worklist
from .parse import process_documents
from .pull import import_document, pull_payer

__all__ = ["Context", "Counts", "RunCounts", "import_document", "process_documents",
           "pull_payer", "refresh_priorities", "write_appeals_queue", "write_outputs",
           "write_worklist"]
