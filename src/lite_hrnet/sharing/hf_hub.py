"""Saved folders on the Hugging Face Hub: ``"hf-hub:org/name[@revision]"`` fetched through
huggingface_hub's cache (which honours ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``, ``HF_ENDPOINT``
and ``HF_TOKEN``), and a folder pushed with ``upload_folder``. huggingface_hub (the ``hub``
extra) is imported when used."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from ..models.hub import WeightsDownloadError
from .folder import CONFIG_FILE, WEIGHTS_FILE

HF_HUB_PREFIX = "hf-hub:"
# What a fetch downloads of a repository: the folder, its model card, nothing else.
_FILES = [CONFIG_FILE, WEIGHTS_FILE, "README.md"]


def _hub():
    try:
        import huggingface_hub
        import huggingface_hub.errors
        import huggingface_hub.utils
    except ImportError as e:
        raise ImportError(
            "hf-hub: names and pushes need huggingface_hub: pip install 'lite-hrnet[hub]'"
        ) from e
    return huggingface_hub


def split_name(name: str) -> tuple[str, str | None]:
    """``"org/name@revision"`` -> ("org/name", "revision"); no ``@``: revision None."""
    repo_id, at, revision = name.partition("@")
    check_repo_id(repo_id)
    return repo_id, (revision or None) if at else None


def check_repo_id(repo_id: str) -> str:
    """``repo_id`` when the Hub accepts it as a model repository name ("org/name"), else a
    ValueError saying why (huggingface_hub's own check)."""
    hub = _hub()
    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise ValueError(f"repository id {repo_id!r}: expected 'org/name'")
    try:
        hub.utils.validate_repo_id(repo_id)
    except hub.errors.HFValidationError as e:
        raise ValueError(f"repository id {repo_id!r}: {e}") from None
    return repo_id


def hub_folder(name: str) -> Path:
    """The local folder (in the Hugging Face cache) of the saved model ``org/name[@rev]``,
    downloaded unless cached. Errors from the Hub become a ``WeightsDownloadError`` that
    names the repository."""
    hub = _hub()
    repo_id, revision = split_name(name)
    try:
        folder = hub.snapshot_download(repo_id, revision=revision, allow_patterns=_FILES)
    except (hub.errors.HfHubHTTPError, hub.errors.LocalEntryNotFoundError, OSError) as e:
        offline = " (HF_HUB_OFFLINE is set: only the cache was read)" if _offline(hub) else ""
        raise WeightsDownloadError(
            f"{HF_HUB_PREFIX}{name}: cannot fetch it from the Hugging Face Hub{offline}: "
            f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    return Path(folder)


def _offline(hub) -> bool:
    check = getattr(hub, "is_offline_mode", None)
    return bool(check()) if check is not None else bool(hub.constants.HF_HUB_OFFLINE)


def hub_weights_file(name: str) -> Path:
    """The weights file of ``org/name[@rev]`` (``model.safetensors``, fetched with its
    ``config.json``): the factories' ``pretrained="hf-hub:..."``."""
    path = hub_folder(name) / WEIGHTS_FILE
    if not path.is_file():
        raise WeightsDownloadError(f"{HF_HUB_PREFIX}{name}: the repository has no {WEIGHTS_FILE}")
    return path


def push_folder(
    folder: str | PathLike[str],
    repo_id: str,
    *,
    private: bool | None = None,
    commit_message: str = "Upload lite-hrnet model",
    token: str | None = None,
) -> str:
    """Upload a saved folder to the model repository ``repo_id`` (created if missing);
    returns the commit's URL. The token: ``token``, else huggingface_hub's (``HF_TOKEN``
    or ``hf auth login``)."""
    hub = _hub()
    check_repo_id(repo_id)
    folder = Path(folder)
    if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{folder}: not a saved folder ({CONFIG_FILE}, {WEIGHTS_FILE})")
    api = hub.HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        commit_message=commit_message,
    )
    return str(getattr(commit, "commit_url", commit))
