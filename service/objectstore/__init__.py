"""Where copies of recording files go: a backend per storage URL scheme (file://, s3://)."""

from service.objectstore.base import Backend, StorageUnavailable, Upload, object_key
from service.objectstore.open import open_backend

__all__ = ["Backend", "StorageUnavailable", "Upload", "object_key", "open_backend"]
