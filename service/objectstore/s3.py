"""The S3 backend (AWS S3 or any S3-compatible store: MinIO, Ceph, R2…) through boto3, AWS's
own maintained SDK: credentials, region and endpoint come from its standard chain
(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile or an instance role, AWS_REGION,
AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3), never from zoomhooks' own settings or logs.

Writes go up as a multipart upload of fixed-size parts (a part's buffer is the memory bound);
a file smaller than one part is a single PUT. A transfer cut short does not resume: the next
attempt aborts any multipart upload left under the key and starts the file again. Resuming
would mean keeping the upload id and the exact byte count of the parts S3 acknowledged across
processes; a clean restart costs only the re-download of a partial file and cannot leave a
mismatched object behind, since nothing is visible at the key until the upload completes.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from service.objectstore.base import Backend, StorageUnavailable, Upload

#: Size of each multipart part (bytes): S3 wants at least 5 MiB for all but the last, and
#: allows 10 000 parts, so 16 MiB parts cover files up to ~156 GiB.
DEFAULT_PART_SIZE = 16 * 1024 * 1024
#: Retries botocore makes itself before a call counts as failed.
DEFAULT_SDK_ATTEMPTS = 3


def _why(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")


class S3Upload(Upload):
    def __init__(self, backend: S3Backend, key: str) -> None:
        super().__init__()
        self.backend = backend
        self.key = key
        self._buffer = io.BytesIO()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._abort_leftovers()

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.backend.client, method)(
                Bucket=self.backend.bucket, Key=self.key, **kwargs
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(
                f"storage {self.backend.display}: {what}: {_why(exc)}"
            ) from None

    def _abort_leftovers(self) -> None:
        """Multipart uploads an interrupted attempt left under this key (they cost storage)."""
        try:
            found = self.backend.client.list_multipart_uploads(
                Bucket=self.backend.bucket, Prefix=self.key
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(
                f"storage {self.backend.display}: cannot list uploads: {_why(exc)}"
            ) from None
        for upload in found.get("Uploads", []):
            if upload.get("Key") == self.key:
                self._call(
                    "cannot abort an old upload",
                    "abort_multipart_upload",
                    UploadId=upload["UploadId"],
                )

    def _write(self, chunk: bytes) -> None:
        self._buffer.write(chunk)
        if self._buffer.tell() >= self.backend.part_size:
            self._flush_part()

    def _flush_part(self) -> None:
        if self._upload_id is None:
            created = self._call("cannot start the upload", "create_multipart_upload")
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        body = self._buffer.getvalue()
        self._buffer = io.BytesIO()
        answer = self._call(
            "cannot upload a part",
            "upload_part",
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def _restart(self) -> None:
        self._abort()
        self._buffer = io.BytesIO()

    def _abort(self) -> None:
        if self._upload_id is not None:
            upload_id, self._upload_id, self._parts = self._upload_id, None, []
            self._call("cannot abort the upload", "abort_multipart_upload", UploadId=upload_id)

    def commit(self) -> str:
        if self._upload_id is None:
            self._call("cannot store the file", "put_object", Body=self._buffer.getvalue())
        else:
            if self._buffer.tell():
                self._flush_part()
            self._call(
                "cannot complete the upload",
                "complete_multipart_upload",
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._buffer = io.BytesIO()
        return f"s3://{self.backend.bucket}/{self.key}"

    def pause(self) -> None:
        # Nothing is resumed (see the module's docstring): free the parts now if S3 answers;
        # else the next attempt's `_abort_leftovers` does.
        self._buffer = io.BytesIO()
        with contextlib.suppress(StorageUnavailable):
            self._abort()


class S3Backend(Backend):
    def __init__(
        self, bucket: str, prefix: str, *, part_size: int = DEFAULT_PART_SIZE, client: Any = None
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size
        self.display = f"s3://{bucket}/{prefix}".rstrip("/")
        self.client = client or boto3.session.Session().client(
            "s3",
            config=Config(retries={"max_attempts": DEFAULT_SDK_ATTEMPTS, "mode": "standard"}),
        )

    def full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def open(self, key: str) -> S3Upload:
        return S3Upload(self, self.full_key(key))

    def stored_size(self, key: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.full_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageUnavailable(f"storage {self.display}: cannot read: {_why(exc)}") from None
        except BotoCoreError as exc:
            raise StorageUnavailable(f"storage {self.display}: cannot read: {_why(exc)}") from None
        return int(head["ContentLength"])

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.full_key(key)}"

    def close(self) -> None:
        self.client.close()
