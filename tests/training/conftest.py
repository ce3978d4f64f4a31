import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """These tiny networks gain nothing from a second thread, and on a busy machine two
    threads per process (more under DDP) slow every step many times over. The root
    conftest restores the thread count afterwards."""
    torch.set_num_threads(1)
