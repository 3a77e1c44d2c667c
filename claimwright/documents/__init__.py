"""Supporting documents of an appeal (progress notes, authorization letters, proof of timely
filing, ...), found by claim and kind; see :mod:`.source` for the contract and :mod:`.folder`
for the folder layout (docs/forms-and-documents.md)."""

from .folder import MAX_DOCUMENT_BYTES, PRACTICE_FOLDER, FolderSource, folder_name
from .source import (
    DATE_OF_SERVICE_KINDS,
    DOCUMENT_KINDS,
    KIND_TITLES,
    PRACTICE_KINDS,
    ClaimRef,
    DocumentsError,
    DocumentsSource,
    Found,
    SupportingDocument,
    documents_source,
)

__all__ = ["DATE_OF_SERVICE_KINDS", "DOCUMENT_KINDS", "KIND_TITLES", "MAX_DOCUMENT_BYTES",
           "PRACTICE_FOLDER", "PRACTICE_KINDS", "ClaimRef", "DocumentsError", "DocumentsSource",
           "FolderSource", "Found", "SupportingDocument", "documents_source", "folder_name"]
