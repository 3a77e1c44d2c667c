"""Render outputs people look at to images, for tests and docs/images: workbooks through
LibreOffice (which evaluates formulas and conditional formatting as a spreadsheet would), PDFs
through pdfium."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def soffice() -> str:
    """LibreOffice's executable; in CI its absence is a failure (``make test`` installs it)."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("LibreOffice (soffice) is not installed: `make office` installs it")
    pytest.skip("LibreOffice is not installed here (`make office` installs it)")


def xlsx_to_pdf(xlsx: Path, out_dir: Path) -> Path:
    """Print the workbook (every sheet) to PDF with LibreOffice, headless, own profile."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        subprocess.run([soffice(), "--headless", "--norestore",
                        f"-env:UserInstallation=file://{profile}", "--convert-to", "pdf",
                        "--outdir", str(out_dir), str(xlsx)],
                       check=True, capture_output=True, timeout=180)
    pdf = out_dir / f"{xlsx.stem}.pdf"
    assert pdf.exists(), f"LibreOffice wrote no {pdf.name}"
    return pdf


def pdf_to_pngs(pdf: Path, out_dir: Path, *, scale: float = 2.0,
                crop: bool = True) -> list[Path]:
    """Each page as a PNG (white margins cropped)."""
    import pypdfium2 as pdfium
    from PIL import ImageChops, Image

    out_dir.mkdir(parents=True, exist_ok=True)
    doc = pdfium.PdfDocument(str(pdf))
    paths = []
    try:
        for n in range(len(doc)):
            image = doc[n].render(scale=scale).to_pil().convert("RGB")
            if crop:
                box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
                if box:
                    pad = 12
                    image = image.crop((max(box[0] - pad, 0), max(box[1] - pad, 0),
                                        min(box[2] + pad, image.width),
                                        min(box[3] + pad, image.height)))
            path = out_dir / f"{pdf.stem}-page{n + 1}.png"
            image.save(path)
            paths.append(path)
    finally:
        doc.close()
    return paths


def colour_share(png: Path, rgb: tuple[int, int, int], tolerance: int = 12) -> float:
    """Share of the image's pixels within ``tolerance`` of ``rgb`` (every channel)."""
    from PIL import Image, ImageChops

    image = Image.open(png).convert("RGB")
    # per channel: 255 where the value is near, else 0; a pixel counts when all three are near
    near = [band.point([255 if abs(v - c) <= tolerance else 0 for v in range(256)])
            for band, c in zip(image.split(), rgb)]
    both = ImageChops.multiply(ImageChops.multiply(near[0], near[1]), near[2])
    return both.histogram()[255] / (image.width * image.height)
