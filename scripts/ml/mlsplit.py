#!/usr/bin/env python3
"""mlsplit.py: the extension's seeded train/test split, in Python.

A bit-exact reimplementation of PCG32 (src/llm/pcg.h: Pcg32Next,
PcgBounded, PcgSeed) and of MlSplit (src/ml/mlsplit.c), so that the
reference scripts train scikit-learn on exactly the rows the extension
trains on.

    from mlsplit import ml_split
    train, test = ml_split(rows, test_fraction, seed)

Run as a script, it prints the two index lists as JSON:

    python3 scripts/ml/mlsplit.py ROWS TEST_FRACTION SEED
"""

import json
import math
import sys

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF
PCG_MULT = 6364136223846793005
PCG_INC = 1442695040888963407


class Pcg32:
    """PCG32 with the fixed increment of src/llm/pcg.h."""

    def __init__(self, seed):
        self.state = 0
        self.next32()
        self.state = (self.state + (seed & MASK64)) & MASK64
        self.next32()

    def next32(self):
        """The next 32 random bits (Pcg32Next)."""
        old = self.state
        self.state = (old * PCG_MULT + PCG_INC) & MASK64
        xorshifted = (((old >> 18) ^ old) >> 27) & MASK32
        rot = old >> 59
        return ((xorshifted >> rot) | (xorshifted << ((32 - rot) & 31))) & MASK32

    def uniform(self):
        """A double in [0, 1) with 53 random bits (PcgUniform)."""
        a = self.next32() >> 5
        b = self.next32() >> 6
        return (a * 67108864.0 + b) / 9007199254740992.0

    def bounded(self, bound):
        """An integer in [0, bound) without modulo bias (PcgBounded)."""
        threshold = ((-bound) & MASK32) % bound
        while True:
            r = self.next32()
            if r >= threshold:
                return r % bound


def c_round(x):
    """C's round() for x >= 0: halves go away from zero (Python's round
    would go to even)."""
    f = math.floor(x)
    return int(f) + (1 if x - f >= 0.5 else 0)


def ml_split(rows, test_fraction, seed):
    """MlSplit: (train, test), each a sorted list of row indexes."""
    if not 0 <= rows <= MASK32:
        raise ValueError("rows must be in [0, 2^32 - 1]")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError("test_fraction must be in [0, 1)")
    n_test = c_round(float(rows) * float(test_fraction))
    perm = list(range(rows))
    rng = Pcg32(seed)
    for i in range(rows - 1, 0, -1):
        j = rng.bounded(i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    test = sorted(perm[:n_test])
    train = sorted(perm[n_test:])
    return train, test


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: mlsplit.py ROWS TEST_FRACTION SEED")
    train, test = ml_split(int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]))
    print(json.dumps({"train": train, "test": test}))


if __name__ == "__main__":
    main()
