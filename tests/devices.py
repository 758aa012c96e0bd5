"""The devices the tests run on: the CPU, and CUDA wherever torch sees a GPU (tests parametrize over DEVICES)."""
import torch

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
