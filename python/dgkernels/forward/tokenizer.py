"""The model's own tokenizer, rebuilt from GGUF metadata, giving llama.cpp's token ids.

Supported: byte-level BPE (`tokenizer.ggml.model = "gpt2"`) with the pre-tokenizers of the Llama family
(gpt2, smollm/starcoder-style digit splitting, llama3, qwen2) and SentencePiece-style BPE
(`"llama"`, Llama 1/2). The split rules, merge order (lowest rank, then leftmost pair) and byte
fallbacks follow llama.cpp's `llama-vocab.cpp`; anything else is refused with an error naming it.
Needs the `regex` package for Unicode classes (\\p{L}, \\p{N}).
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

# GGUF token types (tokenizer.ggml.token_type)
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

# llama.cpp's own whitespace set; Python's \s also matches U+001C..U+001F, which llama.cpp does not.
_WS = "\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_S, _NS = f"[{_WS}]", f"[^{_WS}]"

_GPT2 = (f"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{{L}}+| ?\\p{{N}}+| ?[^{_WS}\\p{{L}}\\p{{N}}]+|{_S}+(?!{_NS})")
_LLAMA3 = ("(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
           f"| ?[^{_WS}\\p{{L}}\\p{{N}}]+[\\r\\n]*|{_S}*[\\r\\n]+|{_S}+(?!{_NS})|{_S}+")
_QWEN2 = _LLAMA3.replace("\\p{N}{1,3}", "\\p{N}")

# Pre-tokenizer name (tokenizer.ggml.pre) -> regexes applied one after the other, as in llama.cpp.
_PRE_SPLITS = {
    "gpt2": [_GPT2], "mpt": [_GPT2], "olmo": [_GPT2], "jais": [_GPT2], "default": [_GPT2],
    "smollm": ["\\p{N}", _GPT2], "starcoder": ["\\p{N}", _GPT2], "refact": ["\\p{N}", _GPT2],
    "command-r": ["\\p{N}", _GPT2], "codeshell": ["\\p{N}", _GPT2], "exaone": ["\\p{N}", _GPT2],
    "minerva-7b": ["\\p{N}", _GPT2],
    "llama3": [_LLAMA3], "llama-v3": [_LLAMA3], "llama-bpe": [_LLAMA3], "falcon3": [_LLAMA3],
    "dbrx": [_LLAMA3], "smaug-bpe": [_LLAMA3],
    "qwen2": [_QWEN2], "stablelm2": [_QWEN2], "deepseek-r1-qwen": [_QWEN2],
}
# Pre-tokenizers for which llama.cpp looks a whole piece up before merging, and adds BOS by default.
_WHOLE_PIECE_FIRST = {"llama3", "llama-v3", "llama-bpe", "falcon3"}


def _byte_to_char() -> list[str]:
    """GPT-2's reversible map from bytes to printable characters (used by byte-level BPE vocabularies)."""
    direct = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in direct:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def _regex():
    try:
        import regex
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the tokenizer needs the 'regex' package for Unicode classes: pip install regex") from e
    return regex


@dataclass
class _Vocab:
    tokens: list[str]
    types: np.ndarray
    scores: np.ndarray | None
    merges: list[str]
    model: str
    pre: str
    bos: int | None
    eos: int | None
    unk: int | None
    add_bos: bool
    add_eos: bool
    add_space_prefix: bool


class Tokenizer:
    """Text -> token ids exactly as llama.cpp's `llama_tokenize` (and llama-imatrix) produce them."""

    def __init__(self, vocab: _Vocab):
        self.v = vocab
        self.token_to_id = {t: i for i, t in enumerate(vocab.tokens)}
        special = [i for i, t in enumerate(vocab.types) if t in (CONTROL, USER_DEFINED, UNKNOWN)]
        # llama.cpp matches longer special tokens first
        self._special = sorted(special, key=lambda i: -len(vocab.tokens[i].encode()))
        self._cache: dict[str, list[int]] = {}
        if vocab.model == "gpt2":
            pre = vocab.pre or "default"
            if pre not in _PRE_SPLITS:
                raise ValueError(f"tokenizer pre-processing {pre!r} is not supported; supported: "
                                 f"{', '.join(sorted(_PRE_SPLITS))}")
            rx = _regex()
            self._splits = [rx.compile(p) for p in _PRE_SPLITS[pre]]
            self._ranks = {}
            for r, m in enumerate(vocab.merges):
                cut = m.find(" ", 1)
                if cut > 0:
                    self._ranks.setdefault((m[:cut], m[cut + 1:]), r)
            self._b2c = _byte_to_char()
            self._whole_first = pre in _WHOLE_PIECE_FIRST
        elif vocab.model == "llama":
            self._scores = vocab.scores if vocab.scores is not None else np.zeros(len(vocab.tokens), np.float32)
            self._byte_ids = {}
            for b in range(256):
                i = self.token_to_id.get(f"<0x{b:02X}>")
                if i is not None:
                    self._byte_ids[b] = i
        else:
            raise ValueError(f"tokenizer model {vocab.model!r} is not supported (supported: 'gpt2' byte-level BPE, "
                             "'llama' SentencePiece BPE)")

    # -- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_gguf(cls, path_or_file) -> "Tokenizer":
        """From a GGUF model path or an open `GGUFFile`."""
        from .gguf_file import GGUFFile
        g = path_or_file if isinstance(path_or_file, GGUFFile) else GGUFFile(path_or_file)
        model = g.get("tokenizer.ggml.model")
        if model is None:
            raise ValueError("the GGUF file has no tokenizer (tokenizer.ggml.model is missing)")
        tokens = list(g.get("tokenizer.ggml.tokens", []))
        types = np.asarray(g.get("tokenizer.ggml.token_type", [NORMAL] * len(tokens)), dtype=np.int32)
        scores = g.get("tokenizer.ggml.scores")
        pre = g.get("tokenizer.ggml.pre", "default")
        defaults_bos = model == "llama" or pre in _WHOLE_PIECE_FIRST
        bos = g.get("tokenizer.ggml.bos_token_id", 1 if model == "llama" else 11)
        eos = g.get("tokenizer.ggml.eos_token_id", 2 if model == "llama" else 11)
        return cls(_Vocab(
            tokens=tokens, types=types,
            scores=None if scores is None else np.asarray(scores, dtype=np.float32),
            merges=list(g.get("tokenizer.ggml.merges", [])), model=model, pre=pre,
            bos=bos, eos=eos, unk=g.get("tokenizer.ggml.unknown_token_id", 0 if model == "llama" else None),
            add_bos=bool(g.get("tokenizer.ggml.add_bos_token", defaults_bos)),
            add_eos=bool(g.get("tokenizer.ggml.add_eos_token", False)),
            add_space_prefix=bool(g.get("tokenizer.ggml.add_space_prefix", model == "llama")),
        ))

    # -- public API -----------------------------------------------------------------------------------------
    @property
    def n_vocab(self) -> int:
        return len(self.v.tokens)

    @property
    def bos_id(self):
        return self.v.bos

    @property
    def eos_id(self):
        return self.v.eos

    @property
    def add_bos(self) -> bool:
        return self.v.add_bos

    def control_ids(self) -> list[int]:
        """Ids of control/unknown/unused tokens (never produced from plain text)."""
        return [i for i, t in enumerate(self.v.types) if t in (CONTROL, UNKNOWN, UNUSED)]

    def encode(self, text: str, *, add_special: bool = True, parse_special: bool = False) -> list[int]:
        """llama_tokenize(text, add_special, parse_special)."""
        out: list[int] = []
        if add_special and self.v.add_bos and self.v.bos is not None:
            out.append(int(self.v.bos))
        after_special = True
        for piece in self._partition(text, parse_special):
            if isinstance(piece, int):
                out.append(piece)
                after_special = True
                continue
            if self.v.model == "gpt2":
                out.extend(self._encode_bpe(piece))
            else:
                # SentencePiece: a space prefix at the start and after each special token (as llama.cpp)
                out.extend(self._encode_spm(piece, after_special and self.v.add_space_prefix))
            after_special = False
        if add_special and self.v.add_eos and self.v.eos is not None:
            out.append(int(self.v.eos))
        return out

    def decode(self, ids) -> str:
        """Token ids -> text (control tokens are dropped); used to show generated text."""
        if self.v.model == "gpt2":
            c2b = {c: b for b, c in enumerate(self._b2c)}
            data = bytearray()
            for i in ids:
                if self.v.types[i] in (CONTROL, UNKNOWN, UNUSED):
                    continue
                t = self.v.tokens[i]
                if self.v.types[i] == USER_DEFINED:
                    data += t.encode()
                else:
                    data += bytes(c2b.get(ch, 0x3F) for ch in t)
            return data.decode("utf-8", errors="replace")
        data = bytearray()
        for i in ids:
            t, ty = self.v.tokens[i], self.v.types[i]
            if ty == BYTE:
                data.append(int(t[3:5], 16))
            elif ty not in (CONTROL, UNKNOWN, UNUSED):
                data += t.replace("\u2581", " ").encode()
        return data.decode("utf-8", errors="replace")

    # -- special tokens ---------------------------------------------------------------------------------------
    def _partition(self, text: str, parse_special: bool):
        """Cut special tokens out of the text; without parse_special only user-defined ones (as llama.cpp)."""
        pieces: list = [text]
        for tid in self._special:
            ty = self.v.types[tid]
            if not parse_special and ty in (CONTROL, UNKNOWN):
                continue
            tok = self.v.tokens[tid]
            if not tok:
                continue
            nxt: list = []
            for p in pieces:
                if isinstance(p, int) or tok not in p:
                    nxt.append(p)
                    continue
                parts = p.split(tok)
                for k, part in enumerate(parts):
                    if k:
                        nxt.append(tid)
                    if part:
                        nxt.append(part)
            pieces = nxt
        return pieces

    # -- byte-level BPE ----------------------------------------------------------------------------------------
    def _pre_split(self, text: str) -> list[str]:
        """Apply the split regexes in turn; text between matches is kept as its own piece (llama.cpp)."""
        pieces = [text]
        for rx in self._splits:
            nxt = []
            for p in pieces:
                pos = 0
                for m in rx.finditer(p):
                    if m.start() > pos:
                        nxt.append(p[pos:m.start()])
                    if m.end() > m.start():
                        nxt.append(m.group())
                    pos = m.end()
                if pos < len(p):
                    nxt.append(p[pos:])
            pieces = nxt
        return pieces

    def _encode_bpe(self, text: str) -> list[int]:
        out: list[int] = []
        for word in self._pre_split(text):
            ids = self._cache.get(word)
            if ids is None:
                ids = self._bpe_word("".join(self._b2c[b] for b in word.encode("utf-8")))
                if len(self._cache) < 200_000:
                    self._cache[word] = ids
            out.extend(ids)
        return out

    def _bpe_word(self, word: str) -> list[int]:
        if self._whole_first and word in self.token_to_id:
            return [self.token_to_id[word]]
        syms = _merge(list(word), lambda a, b: self._ranks.get((a, b)), lowest_first=True)
        out = []
        for s in syms:
            i = self.token_to_id.get(s)
            if i is not None:
                out.append(i)
            else:  # unknown symbol: its single bytes, where the vocabulary has them
                for ch in s.encode("utf-8"):
                    j = self.token_to_id.get(chr(ch))
                    if j is not None:
                        out.append(j)
        return out

    # -- SentencePiece BPE -------------------------------------------------------------------------------------
    def _encode_spm(self, text: str, space_prefix: bool) -> list[int]:
        if space_prefix:
            text = " " + text
        text = text.replace(" ", "\u2581")
        if not text:
            return []

        def score(a, b):
            i = self.token_to_id.get(a + b)
            return None if i is None else -float(self._scores[i])  # highest score merges first

        syms = _merge(list(text), score, lowest_first=True)
        out = []
        for s in syms:
            i = self.token_to_id.get(s)
            if i is not None:
                out.append(i)
            else:  # byte fallback
                for b in s.encode("utf-8"):
                    j = self._byte_ids.get(b, self.v.unk)
                    if j is not None:
                        out.append(j)
        return out


def _merge(symbols: list[str], rank_of, lowest_first: bool) -> list[str]:
    """Greedy pair merging with a heap: the best-ranked adjacent pair first, the leftmost among equals.
    Stale heap entries (a side changed since the pair was pushed) are skipped."""
    n = len(symbols)
    if n < 2:
        return symbols
    text = symbols[:]
    prev = list(range(-1, n - 1))
    nxt = list(range(1, n + 1))
    nxt[-1] = -1
    heap: list = []

    def push(a, b):
        if a < 0 or b < 0:
            return
        r = rank_of(text[a], text[b])
        if r is not None:
            heapq.heappush(heap, (r, a, b, text[a] + text[b]))

    for i in range(n - 1):
        push(i, i + 1)
    while heap:
        _, a, b, joined = heapq.heappop(heap)
        if not text[a] or not text[b] or nxt[a] != b or text[a] + text[b] != joined:
            continue
        text[a] = joined
        text[b] = ""
        nxt[a] = nxt[b]
        if nxt[b] >= 0:
            prev[nxt[b]] = a
        push(prev[a], a)
        push(a, nxt[a])
    return [t for t in text if t]
