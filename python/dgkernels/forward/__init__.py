"""numpy forward pass for Llama-family GGUF models, the models' own tokenizers, and self-generation.

    from dgkernels.forward import load_model, Tokenizer
    m = load_model("model.gguf"); tok = Tokenizer.from_gguf(m.file)
    logits = m.forward(tok.encode("Hello"))
"""
from .gguf_file import GGUFFile
from .model import SUPPORTED_ARCHS, KVCache, Model, UnsupportedModelError, load_model
from .tokenizer import Tokenizer

__all__ = ["GGUFFile", "Model", "KVCache", "load_model", "Tokenizer", "UnsupportedModelError", "SUPPORTED_ARCHS"]
