#!/usr/bin/env python3
"""Print the README's format table from the registry (run after adding a format):

    PYTHONPATH=python python tools/format_table.py
"""
import dgkernels as dg

IMATRIX = {"ignored": "ignored", "optional": "optional", "required": "required (as in ggml)"}


def main() -> None:
    print("| format | ggml id | block | bytes | bits/weight | decode | encode | importance matrix |")
    print("|---|---|---|---|---|---|---|---|")
    for f in dg.formats():
        enc = "exact" if f.is_quantized else "RNE cast" if f.name != "F32" else "copy"
        dec = "exact"
        print(f"| {f.name} | {f.type_id} | {f.block_weights} | {f.block_bytes} | {f.bits_per_weight:.4g} | "
              f"{dec} | {enc} | {IMATRIX[f.imatrix]} |")


if __name__ == "__main__":
    main()
