"""What a request to ``barenet serve`` may hold, and the one shape of its error answers."""
from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["MAX_BODY", "MAX_PIXELS", "PREPARING_AT_ONCE", "PredictRequest", "error_answer", "decode_png"]

MAX_BODY = 1 << 20          # bytes: a 280×280 drawing is about 20 kB as PNG, 5 kB as JSON
MAX_PIXELS = 4_000_000      # pictures larger than 2000×2000 are refused before decoding
PREPARING_AT_ONCE = 2       # pictures prepared at once; each takes up to about 80 MiB (a 2000×2000 one)

Grey = Annotated[float, Field(ge=0, le=255, allow_inf_nan=False, strict=True)]  # numbers, not "12"


class PredictRequest(BaseModel):
    """A drawing to predict: exactly one of ``image`` (28×28 grey levels) and ``png`` (a data URL)."""

    model_config = ConfigDict(extra="forbid")
    image: list[list[Grey]] | None = Field(None, description="28×28 grey levels 0-255, white ink on black")
    png: str | None = Field(None, max_length=MAX_BODY, description="a data URL: data:image/png;base64,...")

    @field_validator("image")
    @classmethod
    def _square(cls, image):
        if image is not None and (len(image) != 28 or any(len(row) != 28 for row in image)):
            raise ValueError("image must be 28 rows of 28 grey levels")
        return image


def error_answer(status: int, message: str, details=None, close: bool = False) -> JSONResponse:
    """Return the API's error answer; ``close`` ends the connection after it (for a body left unread)."""
    body = {"error": message}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers={"Connection": "close"} if close else None)


def decode_png(data_url: str) -> bytes:
    """Return the picture a data URL (PNG, JPEG or WebP) holds; ValueError for anything else."""
    prefix, _, payload = data_url.partition(",")
    if prefix not in ("data:image/png;base64", "data:image/jpeg;base64", "data:image/webp;base64"):
        raise ValueError("png must be a data URL starting with data:image/png;base64,")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("png holds invalid base64") from None
