#!/usr/bin/env python
"""Fit a contact regression on structures: ``esm-contacts train-regression`` as a script.

Every option is the command's (``--help`` lists them), e.g.

python scripts/train_regression.py --model esm1b_t33_650M_UR50S \
    --structures 1a3a.pdb:A 1hvr.pdb:A 4zey.cif:A --out my-contact-regression.pt --validation 0.34
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from esm_contacts.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train-regression", *sys.argv[1:]]))
