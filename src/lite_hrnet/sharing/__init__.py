"""Sharing models: a folder of ``config.json`` + ``model.safetensors`` (``save_pretrained``,
``from_pretrained``, ``load_pretrained_folder``), read locally or from the Hugging Face Hub
(``"hf-hub:org/name"``), and pushed to it (``push_folder``).

Importing this registers the ".safetensors" checkpoint reader and the "hf-hub:" weights
source in ``lite_hrnet.models``, so that ``load_checkpoint`` and the factories' ``pretrained``
take them. safetensors and huggingface_hub (the ``hub`` extra) are imported when used.
"""

from ..models.checkpoint import register_checkpoint_reader
from ..models.hub import register_weights_source
from .folder import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    from_pretrained,
    load_pretrained_folder,
    read_config,
    read_safetensors,
    save_pretrained,
)
from .hf_hub import HF_HUB_PREFIX, check_repo_id, hub_weights_file, push_folder

register_checkpoint_reader(".safetensors", read_safetensors)
register_weights_source(HF_HUB_PREFIX, hub_weights_file)

__all__ = [
    "CONFIG_FILE",
    "HF_HUB_PREFIX",
    "WEIGHTS_FILE",
    "check_repo_id",
    "from_pretrained",
    "load_pretrained_folder",
    "push_folder",
    "read_config",
    "save_pretrained",
]
